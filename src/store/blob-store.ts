import { createHash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { DataDirLayout } from '../datadir.js'
import { scan, type BatchOp, type TroveDb } from '../db.js'
import { META_USAGE } from '../db/keys.js'
import type { BlobEntry, Usage } from '../db/schema.js'
import { BlobNotFoundError, FileNotFoundError, HashMismatchError, InvalidArgumentError, RangeNotSatisfiableError, StorageFullError, isDiskFull } from '../errors.js'
import { syncDir } from '../fs-util.js'
import { SerialQueue } from '../serial.js'
import { assertSha1Hex, isSha1Hex } from '../uri.js'
import { ChunkHasher } from './chunk-hasher.js'
import { copyAndHash } from './file-copy.js'
import { IO_CHUNK_SIZE, PACK_MAX_BYTES, SHARD_PREFIX_LENGTH } from './constants.js'
import { Leases } from './leases.js'
import { TempWriter } from './temp-writer.js'
import { PackFiles, type PackFilesInit, type PackLocation } from './packs.js'
import { SMALL_IO_MAX_BYTES, smallFileIo } from './small-io.js'

/**
 * Read size of the hash pass over a local file's copy. Two buffers of it whatever the file size;
 * 2 MiB halves the calls of 1 MiB and keeps `trove add` of any size well under 100 MB peak RSS.
 */
const COPY_CHUNK_SIZE = 2 * 1024 * 1024
/** First bytes kept of each recently stored in-memory blob (see recentHead). */
export const RECENT_HEAD_BYTES = 64
/**
 * Recently stored blobs whose first bytes are kept: ~0.25 KB each, so at most ~4 MB. Enough for
 * space management's reclassification to find them while it trails a fetch of thousands.
 */
const RECENT_HEADS = 16_384

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
  /** sha1 of each `chunkSize` piece, when the put asked for them. */
  chunks?: string[]
}

export interface PutOptions {
  signal?: AbortSignal
  /** Called with the bytes ingested so far. */
  onProgress?: (bytes: number) => void
  /** Refuse the content unless it hashes to this (data from peers is always re-hashed). */
  expectedSha1?: string
  /** Also hash the content in pieces of this size (for a chunk manifest), in the same pass. */
  chunkSize?: number
  /** The content will be pinned: the space guard lets it past the hard limit. */
  pinned?: boolean
  /** The caller reserved space for this write already (a download): the guard does not count it again. */
  reserved?: boolean
}

/**
 * Consulted by every ingest so that space management can make room or refuse the write
 * (StorageFullError) as its bytes arrive. The store knows nothing else of it.
 */
export interface WriteGuard {
  beginWrite: (options: { pinned: boolean }) => WriteTicket
}

export interface WriteTicket {
  /** Before the write grows to `total` bytes; may evict first, or throw StorageFullError. */
  grow: (total: number) => Promise<void> | undefined
  /** The write is over; `sha1` when content was stored (or found already stored). */
  end: (sha1?: string) => void
}

export interface DeleteBatchOptions {
  /** Runs inside the write queue, synchronously right before the batch: true keeps the blob. */
  keep?: (sha1: string) => boolean
  /** More operations for the same batch (the caller's own bookkeeping of the deletion). */
  extraOps?: (deleted: BlobInfo[]) => BatchOp[]
}

export interface ReadOptions {
  /** The caller's fresh stat of this blob: saves a second index look-up (the fetch responder has one). */
  info?: BlobInfo
  offset?: number
  /** Bytes to read from offset; to the end when absent. */
  length?: number
  /**
   * Not a use of the blob (space management looking inside): read listeners are not told and no
   * lease is taken (the read may then fail with BlobNotFoundError if the blob goes meanwhile).
   */
  quiet?: boolean
}

/** Where a blob's bytes are: its own file, or a range of a pack file. */
export interface BlobLocation {
  path: string
  /** Offset of the blob's first byte in `path`. */
  offset: number
  size: number
  packed: boolean
}

export type { Usage } from '../db/schema.js'

export interface BlobStoreComponents {
  db: TroveDb
  layout: DataDirLayout
}

export interface BlobStoreInit {
  ioChunkSize?: number
  /** fsync blobs and their folders before they count as stored. Off only for throwaway stores. */
  durable?: boolean
  /** Pack file settings (packs.ts); durability follows `durable`. */
  packs?: Omit<PackFilesInit, 'durable'>
}

export type BlobListener = (info: BlobInfo) => void

/**
 * Where stat() found a packed blob's bytes, kept beside the BlobInfo it returned rather than in
 * it: BlobInfo goes out in API answers, locations are the store's business (and change when a
 * pack is compacted).
 */
const packedAt = new WeakMap<BlobInfo, PackLocation>()

function toInfo (sha1: string, entry: BlobEntry): BlobInfo {
  const info = { sha1, size: entry.size, addedAt: entry.addedAt }
  if (entry.pack !== undefined && entry.at !== undefined) packedAt.set(info, { pack: entry.pack, at: entry.at })
  return info
}

/**
 * Content-addressed files under `blobs/<2 hex>/<sha1>`, small blobs that arrive whole in memory
 * in pack files (packs.ts). Ingest streams through a temp file in
 * the same filesystem (hash while writing, fsync, rename), so no reader ever sees a partial blob
 * under its final name, and memory use does not depend on the blob's size. The index and the byte
 * counters live in LevelDB and change in one batch, one writer at a time.
 */
export class BlobStore {
  readonly leases = new Leases()
  private readonly db: TroveDb
  private readonly layout: DataDirLayout
  private readonly ioChunkSize: number
  private readonly copyChunkSize: number
  private readonly durable: boolean
  private readonly indexQueue = new SerialQueue()
  private readonly knownShards = new Set<string>()
  private readonly listeners = new Set<BlobListener>()
  private readonly readListeners = new Set<(sha1: string) => void>()
  /** Space management's hook into writes (src/space); absent, writes are limited only by the disk. */
  space?: WriteGuard
  private readonly pendingCommits: PendingCommit[] = []
  private commitScheduled = false
  private usage: Usage = { bytes: 0, blobs: 0 }
  private readonly recentHeads = new Map<string, Buffer>()
  readonly packs: PackFiles
  private compactionQueued = false

  constructor (components: BlobStoreComponents, init: BlobStoreInit = {}) {
    this.db = components.db
    this.layout = components.layout
    this.ioChunkSize = init.ioChunkSize ?? IO_CHUNK_SIZE
    this.copyChunkSize = init.ioChunkSize ?? COPY_CHUNK_SIZE
    this.durable = init.durable ?? true
    this.packs = new PackFiles({ db: this.db, dir: this.layout.packs }, { ...init.packs, durable: this.durable })
  }

  async open (): Promise<void> {
    this.usage = (await this.db.meta.get(META_USAGE) as Usage | undefined) ?? { bytes: 0, blobs: 0 }
    // We hold the database lock, so nothing else writes temp files: any there are leftovers of a killed process.
    await fs.rm(this.layout.tmp, { recursive: true, force: true })
    await fs.mkdir(this.layout.tmp, { recursive: true })
    await this.packs.open()
  }

  /** Waits for index work in progress (commits, deletes, compactions) and closes the pack files. */
  async close (): Promise<void> {
    await this.indexQueue.run(async () => { await this.packs.close() })
  }

  /** Where the blob's bytes are now (a test or a tool looking at the raw storage); undefined when not stored. */
  async locate (sha1: string): Promise<BlobLocation | undefined> {
    const info = await this.stat(sha1)
    if (info === undefined) return undefined
    const loc = packedAt.get(info)
    if (loc === undefined) return { path: this.pathOf(sha1), offset: 0, size: info.size, packed: false }
    return { path: this.packs.pathOf(loc.pack), offset: loc.at, size: info.size, packed: true }
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

  /** Called on every read or serve of a blob (its last use, for eviction order). */
  onRead (listener: (sha1: string) => void): () => void {
    this.readListeners.add(listener)
    return () => this.readListeners.delete(listener)
  }

  async stat (sha1: string): Promise<BlobInfo | undefined> {
    const entry = await this.db.blobs.get(assertSha1Hex(sha1))
    return entry === undefined ? undefined : toInfo(sha1, entry)
  }

  /** Several stats in one index look-up (a fetch responder's batch of requests). */
  /**
   * The first RECENT_HEAD_BYTES (or fewer: the whole blob) of a blob stored a moment ago from
   * memory, if still remembered. Content is addressed by its hash, so this never goes stale: space
   * management sniffs new blobs for JSON links with it instead of opening each file again.
   */
  recentHead (sha1: string): Uint8Array | undefined {
    return this.recentHeads.get(sha1)
  }

  async statMany (sha1s: string[]): Promise<Array<BlobInfo | undefined>> {
    for (const sha1 of sha1s) assertSha1Hex(sha1)
    const entries = await this.db.blobs.getMany(sha1s)
    return entries.map((entry, i) => entry === undefined ? undefined : toInfo(sha1s[i], entry))
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
    let src: fs.FileHandle
    try {
      src = await fs.open(file, 'r')
    } catch (err) {
      throw new FileNotFoundError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    }
    // opened only to report an unreadable file as such, not as a failed write
    await src.close()
    return this.withTicket(options, async (ticket) => {
      options.signal?.throwIfAborted()
      const tmp = this.tempPath()
      const chunker = options.chunkSize !== undefined ? new ChunkHasher(options.chunkSize) : undefined
      let copied: { sha1: string, size: number }
      try {
        const room = ticket?.grow(stats.size)
        if (room !== undefined) await room
        copied = await copyAndHash(file, tmp, { chunkSize: this.copyChunkSize, chunker, signal: options.signal, onProgress: options.onProgress, durable: this.durable })
        // the file grew while it was copied: the space check sees its real size (and may refuse it)
        const more = copied.size > stats.size ? ticket?.grow(copied.size) : undefined
        if (more !== undefined) await more
      } catch (err) {
        await fs.rm(tmp, { force: true })
        throw this.writeError(err, tmp)
      }
      return this.finishIngest({ tmp }, copied.sha1, copied.size, chunker, options)
    })
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    if (bytes.byteLength > SMALL_IO_MAX_BYTES || options.chunkSize !== undefined) return this.put([bytes], options)
    return this.withTicket(options, async (ticket) => {
      options.signal?.throwIfAborted()
      // whole in memory: hash first, so bytes that are not what was asked for never touch the disk
      const sha1 = createHash('sha1').update(bytes).digest('hex')
      if (options.expectedSha1 !== undefined && sha1 !== options.expectedSha1) {
        throw new HashMismatchError(`content hashes to ${sha1}, expected ${options.expectedSha1}`)
      }
      const room = ticket?.grow(bytes.byteLength)
      if (room !== undefined) await room
      if (bytes.byteLength <= PACK_MAX_BYTES) {
        this.rememberHead(sha1, bytes)
        const result = await this.finishIngest({ bytes }, sha1, bytes.byteLength, undefined, options)
        options.onProgress?.(bytes.byteLength)
        return result
      }
      const tmp = this.tempPath()
      try {
        // one batched hand-off to the small-file worker instead of open, write, fsync, close each
        await smallFileIo.write(tmp, bytes, this.durable)
      } catch (err) {
        throw this.writeError(err, tmp)
      }
      options.onProgress?.(bytes.byteLength)
      this.rememberHead(sha1, bytes)
      return this.finishIngest({ tmp }, sha1, bytes.byteLength, undefined, options)
    })
  }

  /** Before the commit, which is what makes space management look at the blob (see recentHead). */
  private rememberHead (sha1: string, bytes: Uint8Array): void {
    if (this.recentHeads.size >= RECENT_HEADS) this.recentHeads.delete(this.recentHeads.keys().next().value as string)
    // a copy: a view would keep the caller's whole buffer alive
    this.recentHeads.set(sha1, Buffer.from(bytes.subarray(0, RECENT_HEAD_BYTES)))
  }

  /** Streams content into the store. A concurrent or repeated write of the same content is success. */
  async put (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    return this.ingest(async (out) => {
      for await (const chunk of source) await out.push(chunk)
    }, options)
  }

  /** Writes what `fill` pushes into a temp file, then checks and commits it under its hash. */
  private async ingest (fill: (out: TempWriter) => Promise<void>, options: PutOptions): Promise<PutResult> {
    return this.withTicket(options, async (ticket) => await this.ingestGuarded(fill, options, ticket))
  }

  /** Runs a write under a space ticket (unless the caller reserved its space already). */
  private async withTicket (options: PutOptions, write: (ticket: WriteTicket | undefined) => Promise<PutResult>): Promise<PutResult> {
    const ticket = options.reserved === true ? undefined : this.space?.beginWrite({ pinned: options.pinned === true })
    let stored: string | undefined
    try {
      const result = await write(ticket)
      stored = result.sha1
      return result
    } finally {
      ticket?.end(stored)
    }
  }

  private tempPath (): string {
    return path.join(this.layout.tmp, `${randomUUID()}.part`)
  }

  private async ingestGuarded (fill: (out: TempWriter) => Promise<void>, options: PutOptions, ticket: WriteTicket | undefined): Promise<PutResult> {
    const { signal, onProgress } = options
    signal?.throwIfAborted()
    const tmp = this.tempPath()
    const fh = await fs.open(tmp, 'wx', 0o644).catch((err: unknown) => { throw this.writeError(err, tmp) })
    const chunker = options.chunkSize !== undefined ? new ChunkHasher(options.chunkSize) : undefined
    const out = new TempWriter(fh, { durable: this.durable, signal, onProgress, chunker, beforeWrite: ticket?.grow })
    try {
      await fill(out)
      await out.finish()
      await fh.close()
    } catch (err) {
      await out.settle()
      await fh.close().catch(() => {})
      await fs.rm(tmp, { force: true })
      throw this.writeError(err, tmp)
    }
    return this.finishIngest({ tmp }, out.digest(), out.size, chunker, options)
  }

  /** A hashed, durable temp file: checks it against what was expected and commits it. */
  private async finishIngest (content: { tmp: string } | { bytes: Uint8Array }, sha1: string, size: number, chunker: ChunkHasher | undefined, options: PutOptions): Promise<PutResult> {
    const tmp = 'tmp' in content ? content.tmp : undefined
    if (options.expectedSha1 !== undefined && sha1 !== options.expectedSha1) {
      if (tmp !== undefined) await fs.rm(tmp, { force: true })
      throw new HashMismatchError(`content hashes to ${sha1}, expected ${options.expectedSha1}`)
    }
    const release = this.leases.acquire(sha1)
    try {
      const result = await this.commit(content, sha1, size)
      if (chunker !== undefined) result.chunks = await chunker.digest()
      return result
    } catch (err) {
      if (tmp !== undefined) await fs.rm(tmp, { force: true })
      throw this.writeError(err, tmp)
    } finally {
      release()
    }
  }

  /**
   * Takes a finished file from elsewhere in the data directory (a completed download) into the
   * store by rename, after re-hashing it (unless `hashed`: the caller already hashed exactly
   * these bytes to `expectedSha1`): no second copy of the data is made.
   */
  async adoptFile (file: string, expectedSha1: string, options: { hashed?: boolean } = {}): Promise<PutResult> {
    let sha1 = expectedSha1
    let size: number
    if (options.hashed === true) {
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
    const release = this.leases.acquire(sha1)
    try {
      return await this.commit({ tmp: file }, sha1, size)
    } finally {
      release()
    }
  }

  /**
   * Moves a finished temp file into place, or appends bytes held in memory to a pack, and indexes
   * the blob, serialized with deletes.
   */
  private async commit (content: { tmp: string } | { bytes: Uint8Array }, sha1: string, size: number): Promise<PutResult> {
    if ('tmp' in content) {
      const shard = path.dirname(this.pathOf(sha1))
      if (!this.knownShards.has(shard)) {
        await fs.mkdir(shard, { recursive: true })
        this.knownShards.add(shard)
      }
    }
    const info = await new Promise<BlobInfo | undefined>((resolve, reject) => {
      this.pendingCommits.push({ ...content, sha1, size, resolve, reject })
      if (this.commitScheduled) return
      this.commitScheduled = true
      void this.indexQueue.run(async () => {
        // whatever arrives while this batch runs goes into the next one
        this.commitScheduled = false
        await this.commitBatch(this.pendingCommits.splice(0))
      })
    })
    if (info === undefined) return { sha1, size, added: false }
    for (const listener of this.listeners) listener(info)
    return { sha1, size, added: true }
  }

  /**
   * Commits every write that finished while the previous batch ran, in one step: one index
   * look-up, renames and folder syncs in parallel, one append to the pack, one LevelDB batch. Thousands of small blobs
   * (a fetched ref) then cost a few batches instead of one serialized round each. Serialized
   * with deletes by the index queue, as single commits were.
   */
  private async commitBatch (batch: PendingCommit[]): Promise<void> {
    try {
      const existing = await this.db.blobs.getMany(batch.map((c) => c.sha1))
      const fresh: PendingCommit[] = []
      const seen = new Set<string>()
      await Promise.all(batch.map(async (c, i) => {
        if (existing[i] !== undefined || seen.has(c.sha1)) {
          if (c.tmp !== undefined) await smallFileIo.remove(c.tmp)
          c.resolve(undefined)
          return
        }
        seen.add(c.sha1)
        fresh.push(c)
      }))
      const renamed: PendingCommit[] = []
      const packed = fresh.filter((c) => c.bytes !== undefined)
      await Promise.all(fresh.map(async (c) => {
        if (c.tmp === undefined) return
        try {
          // a batch's renames go to the worker together: one hand-off instead of one each
          await smallFileIo.rename(c.tmp, this.pathOf(c.sha1))
          renamed.push(c)
        } catch (err) {
          c.reject(err)
        }
      }))
      // a failed append rejects the packed blobs only: the renamed files are in place and get indexed
      const appended = packed.length > 0
        ? await this.packs.append(packed.map((c) => ({ sha1: c.sha1, bytes: c.bytes as Uint8Array }))).catch((err: unknown) => {
          for (const c of packed) c.reject(err)
          return undefined
        })
        : undefined
      if (renamed.length === 0 && appended === undefined) return
      if (this.durable) await Promise.all([...new Set(renamed.map((c) => path.dirname(this.pathOf(c.sha1))))].map(syncDir))
      const now = Date.now()
      let { bytes, blobs } = this.usage
      const ops: BatchOp[] = [...(appended?.ops ?? [])]
      const stored: Array<{ c: PendingCommit, entry: BlobEntry }> = []
      for (const c of renamed) stored.push({ c, entry: { size: c.size, addedAt: now } })
      if (appended !== undefined) {
        for (const [i, c] of packed.entries()) stored.push({ c, entry: { size: c.size, addedAt: now, ...appended.value[i] } })
      }
      for (const { c, entry } of stored) {
        ops.push({ type: 'put', sublevel: this.db.blobs, key: c.sha1, value: entry })
        bytes += c.size
        blobs++
      }
      const usage = { bytes, blobs }
      ops.push({ type: 'put', sublevel: this.db.meta, key: META_USAGE, value: usage })
      await this.db.batch(ops)
      appended?.commit()
      this.usage = usage
      for (const { c, entry } of stored) c.resolve(toInfo(c.sha1, entry))
    } catch (err) {
      // resolving twice is a no-op, so this only reaches the commits not yet answered
      for (const c of batch) c.reject(err)
    }
  }

  /** A stream of the blob's bytes (or a range of them). */
  async read (sha1: string, options: ReadOptions = {}): Promise<Readable> {
    const { offset, length, file, base } = await this.checkRange(sha1, options)
    // createReadStream cannot express an empty range (its end is inclusive and must be >= 0)
    if (length === 0) return Readable.from([])
    const release = this.beginRead(sha1, options)
    const stream = createReadStream(file, {
      start: base + offset,
      end: base + offset + length - 1,
      highWaterMark: this.ioChunkSize
    })
    stream.once('close', release)
    stream.once('error', release)
    return stream
  }

  /**
   * The blob's bytes (or a range) in one buffer, for small reads: one positioned read instead of
   * a stream, which costs several times more per blob when thousands of small blobs are served.
   */
  async readBytes (sha1: string, options: ReadOptions = {}): Promise<Buffer> {
    const { offset, length, file, base } = await this.checkRange(sha1, options)
    if (length === 0) return Buffer.alloc(0)
    const release = this.beginRead(sha1, options)
    try {
      if (length <= SMALL_IO_MAX_BYTES) {
        // reads asked for together (a fetch responder's batch) go to the worker in one hand-off
        try {
          return await smallFileIo.read(file, base + offset, length)
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'SHORT_READ') throw new BlobNotFoundError(`blob file of sha1://${sha1} is shorter than its index says (run trove verify)`)
          if (code === 'ENOENT') throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
          throw err
        }
      }
      const buf = Buffer.allocUnsafe(length)
      const fh = await fs.open(file, 'r')
      try {
        let filled = 0
        while (filled < length) {
          const { bytesRead } = await fh.read(buf, filled, length - filled, base + offset + filled)
          if (bytesRead === 0) throw new BlobNotFoundError(`blob file of sha1://${sha1} is shorter than its index says (run trove verify)`)
          filled += bytesRead
        }
      } finally {
        await fh.close()
      }
      return buf
    } finally {
      release()
    }
  }

  /**
   * Leases the blob for the read and tells the read listeners (a use, for eviction order); answers
   * the release. A quiet look (space management sniffing for links) does neither, as when it
   * opened the file itself: it must not make verify or a delete skip the blob.
   */
  private beginRead (sha1: string, options: ReadOptions): () => void {
    if (options.quiet === true) return () => {}
    for (const listener of this.readListeners) listener(sha1)
    return this.leases.acquire(sha1)
  }

  /** The range asked for, checked against the blob, and where the blob's bytes start in which file. */
  private async checkRange (sha1: string, options: ReadOptions): Promise<{ offset: number, length: number, file: string, base: number }> {
    const info = options.info ?? await this.stat(sha1)
    if (info === undefined) throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
    const offset = options.offset ?? 0
    const length = options.length ?? Math.max(0, info.size - offset)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new InvalidArgumentError('range offset and length must be non-negative integers')
    }
    if (offset > info.size || offset + length > info.size) {
      throw new RangeNotSatisfiableError(`range ${offset}+${length} is outside blob of ${info.size} bytes`)
    }
    const loc = packedAt.get(info)
    if (loc === undefined) return { offset, length, file: this.pathOf(sha1), base: 0 }
    return { offset, length, file: this.packs.pathOf(loc.pack), base: loc.at }
  }

  /**
   * Removes a blob. Refused (returns false) while the blob is leased; the index and counters
   * change before the file goes, so a crash in between leaves a stray file that verify adopts.
   */
  async delete (sha1: string): Promise<boolean> {
    assertSha1Hex(sha1)
    return this.indexQueue.run(async () => {
      if (this.leases.isLeased(sha1)) return false
      const entry = await this.db.blobs.get(sha1)
      if (entry === undefined) return false
      const usage = { bytes: this.usage.bytes - entry.size, blobs: this.usage.blobs - 1 }
      const released = this.packs.release(entry.pack !== undefined ? [{ pack: entry.pack, size: entry.size }] : [])
      await this.db.batch([
        { type: 'del', sublevel: this.db.blobs, key: sha1 },
        { type: 'put', sublevel: this.db.meta, key: META_USAGE, value: usage },
        ...released.ops
      ])
      released.commit()
      this.usage = usage
      if (entry.pack === undefined) await fs.rm(this.pathOf(sha1), { force: true })
      this.queueCompaction()
      return true
    })
  }

  /**
   * Compacts packs whose live share fell below the threshold, after the deletes that made them
   * so. Queued behind them on the index queue; a failure leaves the pack as it was (consistent)
   * for the next time.
   */
  private queueCompaction (): void {
    if (this.compactionQueued || this.packs.compactable().length === 0) return
    this.compactionQueued = true
    void this.indexQueue.run(async () => {
      this.compactionQueued = false
      for (const id of this.packs.compactable()) await this.packs.compact(id)
    }).catch((err: unknown) => {
      process.emitWarning(`compacting a pack failed (it stays as it is): ${String(err)}`, 'TroveWarning')
    })
  }
  /**
   * Removes several blobs with one index batch (eviction). Leased blobs and those `keep` vetoes
   * stay; the index and counters change before the files go, so a crash in between leaves files
   * without entries (the caller records its intent in `extraOps` to finish the job). A file that
   * cannot be removed is reported, not thrown: one bad blob must not stop an eviction run.
   */
  async deleteBatch (sha1s: string[], options: DeleteBatchOptions = {}): Promise<{ deleted: BlobInfo[], errors: Array<{ sha1: string, error: string }> }> {
    for (const sha1 of sha1s) assertSha1Hex(sha1)
    return this.indexQueue.run(async () => {
      const entries = await this.db.blobs.getMany(sha1s)
      const deleted: BlobInfo[] = []
      const packed = new Set<string>()
      const records: Array<{ pack: number, size: number }> = []
      for (const [i, sha1] of sha1s.entries()) {
        const entry = entries[i]
        if (entry === undefined || this.leases.isLeased(sha1) || options.keep?.(sha1) === true) continue
        deleted.push({ sha1, size: entry.size, addedAt: entry.addedAt })
        if (entry.pack !== undefined) {
          packed.add(sha1)
          records.push({ pack: entry.pack, size: entry.size })
        }
      }
      if (deleted.length === 0) return { deleted, errors: [] }
      const bytes = deleted.reduce((n, d) => n + d.size, 0)
      const usage = { bytes: this.usage.bytes - bytes, blobs: this.usage.blobs - deleted.length }
      const released = this.packs.release(records)
      await this.db.batch([
        ...deleted.map((d): BatchOp => ({ type: 'del', sublevel: this.db.blobs, key: d.sha1 })),
        { type: 'put', sublevel: this.db.meta, key: META_USAGE, value: usage },
        ...released.ops,
        ...(options.extraOps?.(deleted) ?? [])
      ])
      released.commit()
      this.usage = usage
      this.queueCompaction()
      const errors: Array<{ sha1: string, error: string }> = []
      // one hand-off to the small-file thread for the whole batch, not two thread-pool trips per file
      await Promise.all(deleted.filter((d) => !packed.has(d.sha1)).map(async (d) => {
        try {
          await smallFileIo.remove(this.pathOf(d.sha1))
        } catch (err) {
          errors.push({ sha1: d.sha1, error: (err as NodeJS.ErrnoException).code ?? String(err) })
        }
      }))
      return { deleted, errors }
    })
  }

  /**
   * Removes the files of blobs the index does not keep in a file of their own: deleted ones (a
   * caller killed between its index batch and the file removals leaves theirs behind) and ones
   * stored again in a pack since (such a file is only space). A blob stored again as a file keeps
   * it. Serialized with commits, so a file being moved into place is never taken for an orphan.
   */
  async removeOrphanFiles (sha1s: string[]): Promise<void> {
    // only blob names: anything else is not a file of this store
    const named = sha1s.filter((s) => isSha1Hex(s))
    if (named.length === 0) return
    await this.indexQueue.run(async () => {
      const entries = await this.db.blobs.getMany(named)
      for (const [i, sha1] of named.entries()) {
        const entry = entries[i]
        // indexed as a file of its own: the file is the blob
        if (entry !== undefined && entry.pack === undefined) continue
        await fs.rm(this.pathOf(sha1), { force: true })
      }
    })
  }

  async * list (): AsyncGenerator<BlobInfo> {
    for await (const [sha1, entry] of this.db.blobs.iterator()) yield toInfo(sha1, entry)
  }

  /** Every index entry in sha1 order, a block at a time (a rebuild of the space index). */
  scanEntries (): AsyncGenerator<Array<[string, BlobEntry]>> {
    return scan(this.db.blobs)
  }

  /** Index surgery for verify: runs serialized with writes and deletes. */
  async reindex (fn: (ctx: { setUsage: (u: Usage) => void }) => Promise<void>): Promise<void> {
    await this.indexQueue.run(async () => {
      await fn({ setUsage: (u) => { this.usage = u } })
    })
  }

  /** `tmp`: the temp file the write used and removed (none for a blob appended to a pack). */
  private writeError (err: unknown, tmp?: string): unknown {
    if (isDiskFull(err)) {
      const cleaned = tmp !== undefined ? `; temp file ${path.basename(tmp)} removed` : ''
      return new StorageFullError(`disk full while storing a blob (nothing was stored${cleaned})`, { cause: err })
    }
    return err
  }
}

interface PendingCommit {
  /** A finished temp file to rename into place, or */
  tmp?: string
  /** the bytes of a small blob to append to a pack. */
  bytes?: Uint8Array
  sha1: string
  size: number
  resolve: (info: BlobInfo | undefined) => void
  reject: (err: unknown) => void
}
