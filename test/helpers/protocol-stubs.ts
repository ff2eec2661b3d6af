import { Readable } from 'node:stream'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { BlobNotFoundError } from '../../src/errors.js'
import type { BlobSource } from '../../src/protocols/fetch/index.js'
import type { ManifestLookup } from '../../src/protocols/have/index.js'
import { StreamReader } from '../../src/protocols/stream-io.js'
import type { BlobInfo, ReadOptions } from '../../src/store/blob-store.js'
import { sha1Of } from './trove.js'

/** Pieces a stubbed `read` hands out: several per large answer, as a file stream would. */
const READ_PIECE = 64 * 1024

/**
 * Blobs in memory, served as the store serves them (the components a fetch or have responder
 * takes). `failReads` makes every read throw it, as a failing disk would.
 */
export class MemoryBlobs implements BlobSource {
  readonly blobs = new Map<string, Uint8Array>()
  failReads: Error | undefined
  /** Streams handed out by `read` and destroyed since. */
  opened = 0
  destroyed = 0

  add (bytes: Uint8Array): string {
    const sha1 = sha1Of(bytes)
    this.blobs.set(sha1, bytes)
    return sha1
  }

  async statMany (sha1s: string[]): Promise<Array<BlobInfo | undefined>> {
    return sha1s.map((sha1) => {
      const bytes = this.blobs.get(sha1)
      return bytes === undefined ? undefined : { sha1, size: bytes.byteLength, addedAt: 0 }
    })
  }

  async readBytes (sha1: string, options: ReadOptions): Promise<Uint8Array> {
    return this.range(sha1, options)
  }

  async read (sha1: string, options: ReadOptions): Promise<Readable> {
    const bytes = this.range(sha1, options)
    const pieces: Uint8Array[] = []
    for (let i = 0; i < bytes.byteLength; i += READ_PIECE) pieces.push(bytes.subarray(i, i + READ_PIECE))
    const stream = Readable.from(pieces)
    this.opened++
    stream.once('close', () => { this.destroyed++ })
    return stream
  }

  private range (sha1: string, options: ReadOptions): Uint8Array {
    if (this.failReads !== undefined) throw this.failReads
    const bytes = this.blobs.get(sha1)
    if (bytes === undefined) throw new BlobNotFoundError(`sha1://${sha1} is not stored`)
    const offset = options.offset ?? 0
    return bytes.subarray(offset, offset + (options.length ?? bytes.byteLength - offset))
  }
}

/** Manifests by blob, as the ManifestIndex answers. */
export class MemoryManifests implements ManifestLookup {
  readonly manifests = new Map<string, string>()
  lookups = 0

  async getMany (sha1s: string[]): Promise<Array<string | undefined>> {
    this.lookups++
    return sha1s.map((sha1) => this.manifests.get(sha1))
  }
}

/** What the other end did with a raw exchange: answered, ended the stream cleanly, or reset it. */
export type Outcome = { kind: 'answer', msg: Uint8ArrayList } | { kind: 'closed' } | { kind: 'reset', error: string }

/**
 * Sends raw bytes on a stream (as a broken or hostile peer would), closes the writing side unless
 * told not to, and reports what the other end did.
 */
export async function rawExchange (stream: Stream, bytes: Uint8Array | Uint8ArrayList | undefined, maxAnswer: number, options: { keepOpen?: boolean } = {}): Promise<Outcome> {
  const reader = new StreamReader(stream)
  try {
    if (bytes !== undefined) stream.send(bytes)
    if (options.keepOpen !== true) await stream.close()
  } catch {
    // the other end may reset before we finish writing: what it did is read below
  }
  try {
    const msg = await reader.readMessage(maxAnswer)
    return msg === undefined ? { kind: 'closed' } : { kind: 'answer', msg }
  } catch (err) {
    return { kind: 'reset', error: (err as Error).name }
  }
}
