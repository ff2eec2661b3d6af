import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { chunkRange, type Manifest } from '../store/manifests.js'
import { TransferFailedError } from './errors.js'

/**
 * Chunks a reader that follows a download keeps in memory ahead of what it has handed on, copied
 * as they are verified (8 x 4 MiB). A reader slower than the download reads the chunks past this
 * from the partial file instead, so a stalled consumer never makes the node hold a whole blob.
 */
const FOLLOW_BUFFER_CHUNKS = 8

/** What a chunked download tells its tap (fetchChunked's `tap` option). */
export interface ChunkTap {
  /** The download starts (or resumes: `done` holds the chunks already verified, and grows). */
  begin: (manifest: Manifest, file: string, done: ReadonlySet<number>) => void
  /** Chunk `index` is verified against the manifest and written; `data` is valid only during the call. */
  chunk: (index: number, data: Uint8Array) => void
}

/**
 * One download in progress, as readers that stream the blob while it is fetched see it (a
 * `GET /blobs/{sha1}` of a remote blob, `trove cat`). Readers get the chunks in order as they are
 * verified against the manifest; the last one is held back until the whole download has ended
 * and the blob hashed to its sha1, so a reader that is given every byte was given the blob.
 * A download that fails, or starts over with another manifest (the first proved false), fails
 * its readers.
 */
export class DownloadTap implements ChunkTap {
  private manifest: Manifest | undefined
  private file: string | undefined
  private done: ReadonlySet<number> = new Set()
  private ended: { error?: unknown } | undefined
  private readonly readers = new Set<TapReader>()
  private readonly began = signal()
  private wake = signal()

  /** Resolves once the chunked download has begun (never for a blob fetched whole). */
  get begun (): Promise<void> {
    return this.began.promise
  }

  begin (manifest: Manifest, file: string, done: ReadonlySet<number>): void {
    if (this.manifest !== undefined) {
      // readers were given chunks of a manifest now proved false: they cannot be given the rest
      this.ended ??= { error: new TransferFailedError(`the download of sha1://${manifest.sha1} started over with another manifest`) }
      this.notify()
      return
    }
    this.manifest = manifest
    this.file = file
    this.done = done
    this.began.resolve()
  }

  chunk (index: number, data: Uint8Array): void {
    for (const reader of this.readers) reader.offer(index, data)
    this.notify()
  }

  /** The download ended: `error` when it failed. */
  end (error?: unknown): void {
    this.ended ??= { error }
    this.notify()
  }

  /**
   * A stream of the whole blob for one reader, or undefined when the download is past following
   * (its partial file already adopted into the store, or it failed or started over): the caller
   * then waits for the fetch and reads the store.
   */
  /** The blob's size as its manifest says (known once the download has begun). */
  get size (): number | undefined {
    return this.manifest?.size
  }

  async reader (): Promise<Readable | undefined> {
    const manifest = this.manifest
    const file = this.file
    if (manifest === undefined || file === undefined || this.ended?.error !== undefined) return undefined
    let fh: fs.FileHandle
    try {
      // opened now: the descriptor keeps reading the same file once it is renamed into the store
      fh = await fs.open(file, 'r')
    } catch {
      return undefined
    }
    const reader = new TapReader()
    this.readers.add(reader)
    const tap = this
    return Readable.from((async function * () {
      try {
        const last = manifest.chunks.length - 1
        for (let i = 0; i <= last; i++) {
          reader.next = i
          for (;;) {
            if (tap.ended?.error !== undefined) throw tap.ended.error
            // a download that ended well left every chunk in the file; the last chunk waits for
            // that end, since only then is the whole blob's hash known
            if (tap.ended !== undefined || (tap.done.has(i) && i < last)) break
            await tap.wake.promise
          }
          const chunk = reader.take(i) ?? await readChunk(fh, manifest, i)
          reader.next = i + 1
          yield chunk
        }
      } finally {
        tap.readers.delete(reader)
        await fh.close()
      }
    })(), { objectMode: false })
  }

  private notify (): void {
    const woken = this.wake
    this.wake = signal()
    woken.resolve()
  }
}

/** What one reader keeps of the chunks verified ahead of it. */
class TapReader {
  /** The first chunk this reader has not been given yet. */
  next = 0
  private readonly kept = new Map<number, Buffer>()

  offer (index: number, data: Uint8Array): void {
    if (index < this.next || index >= this.next + FOLLOW_BUFFER_CHUNKS || this.kept.size >= FOLLOW_BUFFER_CHUNKS) return
    // a copy: the download reuses its buffer for the next chunk
    this.kept.set(index, Buffer.from(data))
  }

  take (index: number): Buffer | undefined {
    const chunk = this.kept.get(index)
    this.kept.delete(index)
    return chunk
  }
}

async function readChunk (fh: fs.FileHandle, manifest: Manifest, index: number): Promise<Buffer> {
  const { offset, length } = chunkRange(manifest, index)
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got)
    if (bytesRead === 0) throw new TransferFailedError(`chunk ${index} of sha1://${manifest.sha1} is short on disk`)
    got += bytesRead
  }
  return buf
}

/** A promise and the function that resolves it. */
function signal (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}
