import { createHash, type Hash } from 'node:crypto'

/**
 * Hashes fixed-size chunks of a stream as it passes, so a large blob's chunk manifest is made in
 * the same pass as its whole-file hash, without reading the file again.
 */
export class ChunkHasher {
  readonly chunks: string[] = []
  private hash: Hash = createHash('sha1')
  private filled = 0

  constructor (readonly chunkSize: number) {}

  update (data: Uint8Array): void {
    let offset = 0
    while (offset < data.length) {
      const take = Math.min(this.chunkSize - this.filled, data.length - offset)
      this.hash.update(offset === 0 && take === data.length ? data : data.subarray(offset, offset + take))
      this.filled += take
      offset += take
      if (this.filled === this.chunkSize) this.finishChunk()
    }
  }

  /** The chunk hashes, including a final partial chunk. */
  digest (): string[] {
    if (this.filled > 0) this.finishChunk()
    return this.chunks
  }

  private finishChunk (): void {
    this.chunks.push(this.hash.digest('hex'))
    this.hash = createHash('sha1')
    this.filled = 0
  }
}
