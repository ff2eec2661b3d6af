import { webcrypto } from 'node:crypto'

/**
 * Chunk digests computed at once at most. Each holds one chunk-sized buffer, so this bounds the
 * memory (2 chunks, plus the copy WebCrypto takes of each) while keeping the other core busy.
 */
export const CHUNK_DIGESTS_IN_FLIGHT = 2

/**
 * Hashes fixed-size chunks of a stream as it passes, so a large blob's chunk manifest is made in
 * the same pass as its whole-file hash, without reading the file again. Each full chunk is
 * copied once and digested by WebCrypto on libuv's thread pool: the ingest loop's own core
 * keeps to the whole-file hash and the writes, and the second hash runs on the other core
 * instead of doubling the ingest's CPU time.
 */
export class ChunkHasher {
  private readonly digests: Array<Promise<string>> = []
  private readonly inFlight = new Set<Promise<string>>()
  private readonly free: Buffer[] = []
  private current: Buffer | undefined
  private filled = 0

  constructor (readonly chunkSize: number) {}

  /** Takes the bytes in; resolves when there is room for more (a bounded number of digests run). */
  async update (data: Uint8Array): Promise<void> {
    let offset = 0
    while (offset < data.length) {
      this.current ??= this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize)
      const take = Math.min(this.chunkSize - this.filled, data.length - offset)
      this.current.set(data.subarray(offset, offset + take), this.filled)
      this.filled += take
      offset += take
      if (this.filled === this.chunkSize) await this.finishChunk()
    }
  }

  /** The chunk hashes (hex), including a final partial chunk, in order. */
  async digest (): Promise<string[]> {
    if (this.filled > 0) await this.finishChunk()
    return Promise.all(this.digests)
  }

  private async finishChunk (): Promise<void> {
    const buf = this.current as Buffer
    const length = this.filled
    this.current = undefined
    this.filled = 0
    const p = webcrypto.subtle.digest('SHA-1', buf.subarray(0, length)).then((d) => {
      this.free.push(buf)
      return Buffer.from(d).toString('hex')
    })
    this.digests.push(p)
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p)).catch(() => {})
    while (this.inFlight.size >= CHUNK_DIGESTS_IN_FLIGHT) await Promise.race(this.inFlight)
  }
}
