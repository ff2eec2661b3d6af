import { createHash } from 'node:crypto'
import type fs from 'node:fs/promises'
import { writeFully } from '../fs-util.js'
import type { ChunkHasher } from './chunk-hasher.js'

export interface TempWriterInit {
  durable: boolean
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
  /** Also hashes the content in fixed pieces, in the same pass. */
  chunker?: ChunkHasher
  /** Space check before the file grows to `total` bytes (WriteTicket.grow). */
  beforeWrite?: (total: number) => Promise<void> | undefined
}

/**
 * Hashes chunks and writes them to a temp file with one write in flight, so reading, hashing and
 * writing overlap; fsyncs at the end when durable.
 */
export class TempWriter {
  size = 0
  private readonly hash = createHash('sha1')
  private pending: Promise<void> = Promise.resolve()

  constructor (private readonly fh: fs.FileHandle, private readonly init: TempWriterInit) {}

  /**
   * Hashes the chunk and queues its write. Resolves once the chunk pushed before it is on its way
   * to disk, so from then on the caller may reuse that earlier chunk's buffer (not this one's).
   */
  async push (chunk: Uint8Array): Promise<void> {
    this.init.signal?.throwIfAborted()
    const room = this.init.beforeWrite?.(this.size + chunk.length)
    if (room !== undefined) await room
    this.hash.update(chunk)
    const chunked = this.init.chunker?.update(chunk)
    if (chunked !== undefined) await chunked
    await this.pending
    this.pending = writeFully(this.fh, chunk, this.size)
    // a failed write (ENOSPC) surfaces at the next await; until then it must not count as an
    // unhandled rejection, which would kill the process while we wait for the source
    this.pending.catch(() => {})
    this.size += chunk.length
    this.init.onProgress?.(this.size)
  }

  /** Waits for every write, then makes the file durable (when asked to). */
  async finish (): Promise<void> {
    await this.pending
    if (this.init.durable) await this.fh.sync()
  }

  /** After a failure: waits for operations still in flight, ignoring their outcome. */
  async settle (): Promise<void> {
    await this.pending.catch(() => {})
  }

  digest (): string {
    return this.hash.digest('hex')
  }
}
