/** Provider records kept at most (a bounded table: oldest entries go first). */
export const MAX_PROVIDER_RECORDS = 200_000
/** An announcement is trusted this long; peers re-announce nothing, so content found later is asked for. */
export const PROVIDER_TTL_MS = 60 * 60 * 1000

interface Entry {
  peers: Map<string, number>
  size?: number
}

/**
 * Which peers said they hold which blobs (from announcements and have-answers). Bounded and
 * expiring: it is a hint for choosing providers, never trusted for content.
 */
export class ProviderTable {
  private readonly table = new Map<string, Entry>()

  constructor (private readonly maxRecords = MAX_PROVIDER_RECORDS, private readonly ttlMs = PROVIDER_TTL_MS) {}

  add (sha1: string, peerId: string, size?: number, now = Date.now()): void {
    let entry = this.table.get(sha1)
    if (entry === undefined) {
      entry = { peers: new Map() }
    } else {
      // re-insert so Map order is recency order and eviction drops the stalest
      this.table.delete(sha1)
    }
    entry.peers.set(peerId, now + this.ttlMs)
    if (size !== undefined) entry.size = size
    this.table.set(sha1, entry)
    while (this.table.size > this.maxRecords) {
      const oldest = this.table.keys().next().value
      if (oldest === undefined) break
      this.table.delete(oldest)
    }
  }

  remove (sha1: string, peerId: string): void {
    this.table.get(sha1)?.peers.delete(peerId)
  }

  /** Peers believed to hold the blob, unexpired. */
  get (sha1: string, now = Date.now()): string[] {
    const entry = this.table.get(sha1)
    if (entry === undefined) return []
    const out: string[] = []
    for (const [peer, expires] of entry.peers) {
      if (expires > now) out.push(peer)
      else entry.peers.delete(peer)
    }
    if (entry.peers.size === 0) this.table.delete(sha1)
    return out
  }

  /** Known copies elsewhere (for replica-aware eviction). */
  replicas (sha1: string): number {
    return this.get(sha1).length
  }

  forgetPeer (peerId: string): void {
    for (const entry of this.table.values()) entry.peers.delete(peerId)
  }

  get size (): number {
    return this.table.size
  }
}
