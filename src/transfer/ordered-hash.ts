import { createHash } from 'node:crypto'
import type fs from 'node:fs/promises'
import { InternalError } from '../errors.js'
import { chunkRange, type Manifest } from '../store/manifests.js'

/**
 * Hashes a whole chunked download in chunk order while it runs, so the blob's own sha1 is known
 * the moment the last chunk lands: no second pass over the finished file (which cost a serial
 * second of re-reading and re-hashing per GiB at the end of every download, see bench/fetch).
 *
 * A chunk verified and written while it is the next one due is hashed from the caller's memory;
 * chunks that land ahead of it are hashed later from the file (the page cache) into one reused
 * buffer. Only chunks in `done` (verified against the manifest and written) are ever hashed.
 */
export class OrderedHasher {
  private readonly hash = createHash('sha1')
  private next = 0
  private reading: Promise<void> | undefined
  private readBuf: Buffer | undefined
  private error: unknown

  constructor (private readonly fh: fs.FileHandle, private readonly manifest: Manifest, private readonly done: ReadonlySet<number>) {}

  /** Chunk `index` is verified and written; `bytes` is its content, only read during this call. */
  offer (index: number, bytes: Uint8Array): void {
    if (this.reading === undefined && index === this.next) {
      this.hash.update(bytes)
      this.next++
    }
    this.catchUp()
  }

  /** Waits for every chunk to be hashed and returns the whole blob's sha1 (hex). */
  async digest (): Promise<string> {
    for (;;) {
      this.catchUp()
      if (this.reading === undefined) break
      await this.reading
    }
    if (this.error !== undefined) throw this.error
    if (this.next !== this.manifest.chunks.length) throw new InternalError(`only ${this.next} of ${this.manifest.chunks.length} chunks were hashed`)
    return this.hash.digest('hex')
  }

  /** Starts hashing, from the file, the done chunks that are now next in order. */
  private catchUp (): void {
    if (this.reading !== undefined || this.error !== undefined || !this.done.has(this.next)) return
    this.reading = (async () => {
      try {
        while (this.done.has(this.next)) {
          const { offset, length } = chunkRange(this.manifest, this.next)
          this.readBuf ??= Buffer.allocUnsafe(this.manifest.chunkSize)
          let got = 0
          while (got < length) {
            const { bytesRead } = await this.fh.read(this.readBuf, got, length - got, offset + got)
            if (bytesRead === 0) throw new InternalError(`chunk ${this.next} is short on disk`)
            got += bytesRead
          }
          this.hash.update(this.readBuf.subarray(0, length))
          this.next++
        }
      } catch (err) {
        this.error = err
      } finally {
        this.reading = undefined
      }
    })()
  }
}
