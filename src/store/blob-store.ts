import { createHash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { DataDirLayout } from '../datadir.js'
import type { TroveDb } from '../db.js'
import { BlobNotFoundError, FileNotFoundError, HashMismatchError, InvalidArgumentError, RangeNotSatisfiableError, StorageFullError, isDiskFull } from '../errors.js'
import { SerialQueue } from '../serial.js'
import { assertSha1Hex } from '../uri.js'
import { IO_CHUNK_SIZE, SHARD_PREFIX_LENGTH } from './constants.js'
import { Leases } from './leases.js'

export interface BlobInfo {
  sha1: string
  size: number
  /** ms since epoch when the blob was first stored here. */
  addedAt: number
}

export interface PutResult {
  sha1: string
  size: number
  /** false when the blob was already stored (a repeated or concurrent write of the same content). */
  added: boolean
}

export interface PutOptions {
  signal?: AbortSignal
  /** Called with the bytes ingested so far. */
  onProgress?: (bytes: number) => void
  /** Refuse the content unless it hashes to this (data from peers is always re-hashed). */
  expectedSha1?: string
}

export interface ReadOptions {
  offset?: number
  /** Bytes to read from offset; to the end when absent. */
  length?: number
}

export interface Usage {
  bytes: number
  blobs: number
}

export interface BlobStoreComponents {
  db: TroveDb
  layout: DataDirLayout
}

export interface BlobStoreInit {
  ioChunkSize?: number
  /** fsync blobs and their folders before they count as stored. Off only for throwaway stores. */
  durable?: boolean
}

export type BlobListener = (info: BlobInfo) => void

/**
 * Content-addressed files under `blobs/<2 hex>/<sha1>`. Ingest streams through a temp file in
 * the same filesystem (hash while writing, fsync, rename), so no reader ever sees a partial blob
 * under its final name, and memory use does not depend on the blob's size. The index and the byte
 * counters live in LevelDB and change in one batch, one writer at a time.
 */
export class BlobStore {
  readonly leases = new Leases()
  private readonly db: TroveDb
  private readonly layout: DataDirLayout
  private readonly ioChunkSize: number
  private readonly durable: boolean
  private readonly indexQueue = new SerialQueue()
  private readonly knownShards = new Set<string>()
  private readonly listeners = new Set<BlobListener>()
  private usage: Usage = { bytes: 0, blobs: 0 }

  constructor (components: BlobStoreComponents, init: BlobStoreInit = {}) {
    this.db = components.db
    this.layout = components.layout
    this.ioChunkSize = init.ioChunkSize ?? IO_CHUNK_SIZE
    this.durable = init.durable ?? true
  }

  async open (): Promise<void> {
    this.usage = (await this.db.meta.get('usage') as Usage | undefined) ?? { bytes: 0, blobs: 0 }
    // We hold the database lock, so nothing else writes temp files: any there are leftovers of a killed process.
    await fs.rm(this.layout.tmp, { recursive: true, force: true })
    await fs.mkdir(this.layout.tmp, { recursive: true })
  }

  pathOf (sha1: string): string {
    return path.join(this.layout.blobs, sha1.slice(0, SHARD_PREFIX_LENGTH), sha1)
  }

  getUsage (): Usage {
    return { ...this.usage }
  }

  onAdded (listener: BlobListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async stat (sha1: string): Promise<BlobInfo | undefined> {
    const entry = await this.db.blobs.get(assertSha1Hex(sha1)) as Omit<BlobInfo, 'sha1'> | undefined
    return entry === undefined ? undefined : { sha1, ...entry }
  }

  async has (sha1: string): Promise<boolean> {
    return (await this.stat(sha1)) !== undefined
  }

  async putFile (file: string, options: PutOptions = {}): Promise<PutResult> {
    let stats
    try {
      stats = await fs.stat(file)
    } catch (err) {
      throw new FileNotFoundError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    }
    if (!stats.isFile()) throw new FileNotFoundError(`not a regular file: ${file}`)
    return this.put(createReadStream(file, { highWaterMark: this.ioChunkSize }), options)
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return this.put([bytes], options)
  }

  /** Streams content into the store. A concurrent or repeated write of the same content is success. */
  async put (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    const { signal, onProgress, expectedSha1 } = options
    signal?.throwIfAborted()
    const tmp = path.join(this.layout.tmp, `${randomUUID()}.part`)
    const hash = createHash('sha1')
    let size = 0
    const fh = await fs.open(tmp, 'wx', 0o644).catch((err: unknown) => { throw this.writeError(err, tmp) })
    try {
      let pending: Promise<void> = Promise.resolve()
      for await (const chunk of source) {
        signal?.throwIfAborted()
        hash.update(chunk)
        await pending
        // one write in flight while the next chunk is read and hashed
        pending = writeAll(fh, chunk)
        // a failed write (ENOSPC) surfaces at the next await; until then it must not count as an
        // unhandled rejection, which would kill the process while we wait for the source
        pending.catch(() => {})
        size += chunk.length
        onProgress?.(size)
      }
      await pending
      if (this.durable) await fh.sync()
      await fh.close()
    } catch (err) {
      await fh.close().catch(() => {})
      await fs.rm(tmp, { force: true })
      throw this.writeError(err, tmp)
    }
    const sha1 = hash.digest('hex')
    if (expectedSha1 !== undefined && sha1 !== expectedSha1) {
      await fs.rm(tmp, { force: true })
      throw new HashMismatchError(`content hashes to ${sha1}, expected ${expectedSha1}`)
    }
    const release = this.leases.acquire(sha1)
    try {
      return await this.commit(tmp, sha1, size)
    } catch (err) {
      await fs.rm(tmp, { force: true })
      throw this.writeError(err, tmp)
    } finally {
      release()
    }
  }

  /** Moves a finished temp file into place and indexes it, serialized with deletes. */
  private async commit (tmp: string, sha1: string, size: number): Promise<PutResult> {
    const final = this.pathOf(sha1)
    const shard = path.dirname(final)
    if (!this.knownShards.has(shard)) {
      await fs.mkdir(shard, { recursive: true })
      this.knownShards.add(shard)
    }
    const info = await this.indexQueue.run(async () => {
      if (await this.db.blobs.get(sha1) !== undefined) {
        await fs.rm(tmp, { force: true })
        return undefined
      }
      await fs.rename(tmp, final)
      if (this.durable) await syncDir(shard)
      const entry = { size, addedAt: Date.now() }
      const usage = { bytes: this.usage.bytes + size, blobs: this.usage.blobs + 1 }
      await this.db.level.batch([
        { type: 'put', sublevel: this.db.blobs, key: sha1, value: entry },
        { type: 'put', sublevel: this.db.meta, key: 'usage', value: usage }
      ])
      this.usage = usage
      return { sha1, ...entry }
    })
    if (info === undefined) return { sha1, size, added: false }
    for (const listener of this.listeners) listener(info)
    return { sha1, size, added: true }
  }

  /** A stream of the blob's bytes (or a range of them). */
  async read (sha1: string, options: ReadOptions = {}): Promise<Readable> {
    const info = await this.stat(sha1)
    if (info === undefined) throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
    const offset = options.offset ?? 0
    const length = options.length ?? Math.max(0, info.size - offset)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new InvalidArgumentError('range offset and length must be non-negative integers')
    }
    if (offset > info.size || offset + length > info.size) {
      throw new RangeNotSatisfiableError(`range ${offset}+${length} is outside blob of ${info.size} bytes`)
    }
    // createReadStream cannot express an empty range (its end is inclusive and must be >= 0)
    if (length === 0) return Readable.from([])
    const release = this.leases.acquire(sha1)
    const stream = createReadStream(this.pathOf(sha1), {
      start: offset,
      end: offset + length - 1,
      highWaterMark: this.ioChunkSize
    })
    stream.once('close', release)
    stream.once('error', release)
    return stream
  }

  async readBytes (sha1: string, options: ReadOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const chunk of await this.read(sha1, options)) parts.push(chunk as Buffer)
    return Buffer.concat(parts)
  }

  /**
   * Removes a blob. Refused (returns false) while the blob is leased; the index and counters
   * change before the file goes, so a crash in between leaves a stray file that verify adopts.
   */
  async delete (sha1: string): Promise<boolean> {
    assertSha1Hex(sha1)
    return this.indexQueue.run(async () => {
      if (this.leases.isLeased(sha1)) return false
      const entry = await this.db.blobs.get(sha1) as { size: number } | undefined
      if (entry === undefined) return false
      const usage = { bytes: this.usage.bytes - entry.size, blobs: this.usage.blobs - 1 }
      await this.db.level.batch([
        { type: 'del', sublevel: this.db.blobs, key: sha1 },
        { type: 'put', sublevel: this.db.meta, key: 'usage', value: usage }
      ])
      this.usage = usage
      await fs.rm(this.pathOf(sha1), { force: true })
      return true
    })
  }

  async * list (): AsyncGenerator<BlobInfo> {
    for await (const [sha1, entry] of this.db.blobs.iterator()) {
      yield { sha1, ...(entry as Omit<BlobInfo, 'sha1'>) }
    }
  }

  /** Index surgery for verify: runs serialized with writes and deletes. */
  async reindex (fn: (ctx: { setUsage: (u: Usage) => void }) => Promise<void>): Promise<void> {
    await this.indexQueue.run(async () => {
      await fn({ setUsage: (u) => { this.usage = u } })
    })
  }

  private writeError (err: unknown, tmp: string): unknown {
    if (isDiskFull(err)) {
      return new StorageFullError(`disk full while storing a blob (nothing was stored; temp file ${path.basename(tmp)} removed)`, { cause: err })
    }
    return err
  }
}

async function writeAll (fh: fs.FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset)
    offset += bytesWritten
  }
}

async function syncDir (dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
