import { createHash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, HashMismatchError, StorageFullError, isDiskFull } from '../errors.js'
import { ChunkHasher } from './chunk-hasher.js'
import { PACK_MAX_BYTES } from './constants.js'
import { copyAndHash } from './file-copy.js'
import type { SmallFileIo } from './small-io.js'
import { TempWriter } from './temp-writer.js'
import type { CommitContent, IngestOptions, WriteTicket } from './types.js'

/**
 * Read size of the hash pass over a local file's copy. Two buffers of it whatever the file size;
 * 2 MiB halves the calls of 1 MiB and keeps `trove add` of any size well under 100 MB peak RSS.
 */
const COPY_CHUNK_SIZE = 2 * 1024 * 1024

/**
 * Content hashed and checked against what was expected, ready to commit: a durable temp file, or
 * the bytes of a small blob for a pack. `chunker` holds the piece hashes when they were asked for.
 */
export type Ingested = CommitContent & { sha1: string, size: number, chunker?: ChunkHasher }

export interface IngestComponents {
  /** Temp folder, in the blobs' filesystem (for atomic renames). */
  tmpDir: string
  io: SmallFileIo
}

export interface IngestInit {
  durable: boolean
  /** Read size when re-hashing an adopted file. */
  ioChunkSize: number
  /** Read size of the hash pass over a file's copy; default COPY_CHUNK_SIZE. */
  copyChunkSize?: number
}

/**
 * The front half of every put: turns a file, a stream or bytes into hashed, checked content (a
 * temp file written durably, or bytes for a pack) under the space ticket of the write. Nothing is
 * visible in the store until BlobIndex commits it; a failure removes the temp file.
 */
export class Ingest {
  private readonly tmpDir: string
  private readonly io: SmallFileIo
  private readonly durable: boolean
  private readonly ioChunkSize: number
  private readonly copyChunkSize: number

  constructor (components: IngestComponents, init: IngestInit) {
    this.tmpDir = components.tmpDir
    this.io = components.io
    this.durable = init.durable
    this.ioChunkSize = init.ioChunkSize
    this.copyChunkSize = init.copyChunkSize ?? COPY_CHUNK_SIZE
  }

  /** Checks that `file` is a readable regular file before any space is asked for; answers its size. */
  async checkFile (file: string): Promise<number> {
    const unreadable = (err: unknown): FileNotFoundError =>
      new FileNotFoundError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    const stats = await fs.stat(file).catch((err: unknown) => { throw unreadable(err) })
    if (!stats.isFile()) throw new FileNotFoundError(`not a regular file: ${file}`)
    const src = await fs.open(file, 'r').catch((err: unknown) => { throw unreadable(err) })
    // opened only to report an unreadable file as such, not as a failed write
    await src.close()
    return stats.size
  }

  /** A local file of `size` bytes (as checkFile() found it), copied in the kernel and hashed as it goes. */
  async file (file: string, size: number, options: IngestOptions, ticket: WriteTicket | undefined): Promise<Ingested> {
    options.signal?.throwIfAborted()
    const tmp = this.tempPath()
    const chunker = options.chunkSize !== undefined ? new ChunkHasher(options.chunkSize) : undefined
    let copied: { sha1: string, size: number }
    try {
      const room = ticket?.grow(size)
      if (room !== undefined) await room
      copied = await copyAndHash(file, tmp, { chunkSize: this.copyChunkSize, chunker, signal: options.signal, onProgress: options.onProgress, durable: this.durable })
      // the file grew while it was copied: the space check sees its real size (and may refuse it)
      const more = copied.size > size ? ticket?.grow(copied.size) : undefined
      if (more !== undefined) await more
    } catch (err) {
      await fs.rm(tmp, { force: true })
      throw writeError(err, tmp)
    }
    return this.checked({ tmp, sha1: copied.sha1, size: copied.size, chunker }, options)
  }

  /** What `source` yields, written to a temp file with the hash taken on the way. */
  async stream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: IngestOptions, ticket: WriteTicket | undefined): Promise<Ingested> {
    const { signal, onProgress } = options
    signal?.throwIfAborted()
    const tmp = this.tempPath()
    const fh = await fs.open(tmp, 'wx', 0o644).catch((err: unknown) => { throw writeError(err, tmp) })
    const chunker = options.chunkSize !== undefined ? new ChunkHasher(options.chunkSize) : undefined
    const out = new TempWriter(fh, { durable: this.durable, signal, onProgress, chunker, beforeWrite: ticket?.grow })
    try {
      for await (const chunk of source) await out.push(chunk)
      await out.finish()
      await fh.close()
    } catch (err) {
      await out.settle()
      await fh.close().catch(() => {})
      await fs.rm(tmp, { force: true })
      throw writeError(err, tmp)
    }
    return this.checked({ tmp, sha1: out.digest(), size: out.size, chunker }, options)
  }

  /**
   * Bytes held whole in memory (up to SMALL_IO_MAX_BYTES): hashed first, so bytes that are not
   * what was asked for never touch the disk. Up to PACK_MAX_BYTES they go to a pack as they are;
   * larger ones to a temp file, through the small-file worker.
   */
  async bytes (bytes: Uint8Array, options: IngestOptions, ticket: WriteTicket | undefined): Promise<Ingested> {
    options.signal?.throwIfAborted()
    const sha1 = createHash('sha1').update(bytes).digest('hex')
    await this.checked({ bytes, sha1, size: bytes.byteLength }, options)
    const room = ticket?.grow(bytes.byteLength)
    if (room !== undefined) await room
    if (bytes.byteLength <= PACK_MAX_BYTES) return { bytes, sha1, size: bytes.byteLength }
    const tmp = this.tempPath()
    try {
      // one batched hand-off to the small-file worker instead of open, write, fsync, close each
      await this.io.write(tmp, bytes, this.durable)
    } catch (err) {
      throw writeError(err, tmp)
    }
    options.onProgress?.(bytes.byteLength)
    return { tmp, sha1, size: bytes.byteLength }
  }

  /**
   * A finished file from elsewhere in the data directory (a completed download), re-hashed unless
   * `hashed` (the caller hashed exactly these bytes to `expectedSha1`), and made durable. It is
   * taken into the store as it is, by rename: no second copy of the data is made.
   */
  async adopt (file: string, expectedSha1: string, hashed: boolean): Promise<Ingested> {
    let sha1 = expectedSha1
    let size: number
    if (hashed) {
      // the caller hashed these exact bytes as it wrote them (the chunked fetcher does, in
      // order): a second pass would cost a full re-read and re-hash (~1 s/GiB, bench/fetch)
      size = (await fs.stat(file)).size
    } else {
      const hash = createHash('sha1')
      size = 0
      for await (const chunk of createReadStream(file, { highWaterMark: this.ioChunkSize })) {
        hash.update(chunk as Buffer)
        size += (chunk as Buffer).length
      }
      sha1 = hash.digest('hex')
      if (sha1 !== expectedSha1) throw new HashMismatchError(`downloaded file hashes to ${sha1}, expected ${expectedSha1}`)
    }
    if (this.durable) {
      const fh = await fs.open(file, 'r+')
      try { await fh.sync() } finally { await fh.close() }
    }
    return { tmp: file, sha1, size }
  }

  private tempPath (): string {
    return path.join(this.tmpDir, `${randomUUID()}.part`)
  }

  /** The content if it hashes to what was expected; else its temp file is removed and HashMismatchError thrown. */
  private async checked (content: Ingested, options: IngestOptions): Promise<Ingested> {
    if (options.expectedSha1 !== undefined && content.sha1 !== options.expectedSha1) {
      if ('tmp' in content) await fs.rm(content.tmp, { force: true })
      throw new HashMismatchError(`content hashes to ${content.sha1}, expected ${options.expectedSha1}`)
    }
    return content
  }
}

/** A write's error as the caller should see it; `tmp`: the temp file the write used and removed. */
export function writeError (err: unknown, tmp?: string): unknown {
  if (isDiskFull(err)) {
    const cleaned = tmp !== undefined ? `; temp file ${path.basename(tmp)} removed` : ''
    return new StorageFullError(`disk full while storing a blob (nothing was stored${cleaned})`, { cause: err })
  }
  return err
}
