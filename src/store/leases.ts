/**
 * In-memory leases: a blob being written, fetched or served is leased and must not be evicted
 * or quarantined under it. Counted, because several readers may hold the same blob.
 */
export class Leases {
  private readonly counts = new Map<string, number>()

  acquire (sha1: string): () => void {
    this.counts.set(sha1, (this.counts.get(sha1) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.counts.get(sha1) ?? 1) - 1
      if (n <= 0) this.counts.delete(sha1)
      else this.counts.set(sha1, n)
    }
  }

  isLeased (sha1: string): boolean {
    return this.counts.has(sha1)
  }

  get size (): number {
    return this.counts.size
  }

  leased (): string[] {
    return [...this.counts.keys()]
  }
}
