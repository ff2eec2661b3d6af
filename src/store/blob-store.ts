import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { DataDirLayout } from '../datadir.js'
import type { BlobEntry, Usage } from '../db/schema.js'
import { BlobNotFoundError } from '../errors.js'
import { readFully } from '../fs-util.js'
import { defaultLogger } from '../logger.js'
import { assertSha1Hex, isSha1Hex } from '../uri.js'
import { BlobIndex } from './blob-index.js'
import { ADDED_HEAD_BYTES, IO_CHUNK_SIZE } from './constants.js'
import { Ingest, writeError, type Ingested } from './ingest.js'
import { Leases } from './leases.js'
import { PackFiles } from './packs.js'
import { ShardedPaths } from './paths.js'
import { SMALL_IO_MAX_BYTES, smallFileIo, type SmallFileIo } from './small-io.js'
import type { BlobListener, BlobLocation, BlobStoreComponents, BlobStoreInit, DeleteBatchOptions, DeleteBatchResult, LocatedBlob, PutOptions, PutResult, ReadOptions, WriteGuard, WriteTicket } from './types.js'
import { verifyStore, type VerifyOptions, type VerifyReport } from './verify.js'
import { resolveRange } from './range.js'

// where it always was, for the store's users; it lives apart so a client can check a range without loading the store
export { resolveRange }

export type * from './types.js'
export type { Usage } from '../db/schema.js'

/**
 * Content-addressed files under `blobs/<2 hex>/<sha1>`, small blobs that arrive whole in memory
 * in pack files (packs.ts). Ingest (ingest.ts) streams through a temp file in the same filesystem
 * (hash while writing, fsync, rename), so no reader ever sees a partial blob under its final name,
 * and memory use does not depend on the blob's size. The index and the byte counters (BlobIndex)
 * live in LevelDB and change in one batch, one writer at a time.
 */
export class BlobStore {
  /** Space management's hook into writes (src/space), registered by it; absent, writes are limited only by the disk. */
  private guard?: WriteGuard
  private readonly layout: DataDirLayout
  private readonly ioChunkSize: number
  private readonly io: SmallFileIo
  private readonly paths: ShardedPaths
  private readonly leases = new Leases()
  private readonly packs: PackFiles
  private readonly index: BlobIndex
  private readonly ingest: Ingest
  private readonly listeners = new Set<BlobListener>()
  private readonly readListeners = new Set<(sha1: string) => void>()

  constructor (components: BlobStoreComponents, init: BlobStoreInit = {}) {
    const { db, layout } = components
    const logger = components.logger ?? defaultLogger()
    const durable = init.durable ?? true
    this.layout = layout
    this.ioChunkSize = init.ioChunkSize ?? IO_CHUNK_SIZE
    this.io = init.io ?? smallFileIo
    this.paths = new ShardedPaths(layout.blobs)
    this.packs = new PackFiles({ db, dir: layout.packs, logger }, { ...init.packs, durable })
    this.index = new BlobIndex({ db, packs: this.packs, paths: this.paths, io: this.io, logger }, { durable })
    this.ingest = new Ingest({ tmpDir: layout.tmp, io: this.io }, { durable, ioChunkSize: this.ioChunkSize, copyChunkSize: init.ioChunkSize })
  }

  /**
   * Registers the one guard every write asks for a ticket (space management, at its open);
   * returns the function that takes it away again (at its close).
   */
  guardWrites (guard: WriteGuard): () => void {
    this.guard = guard
    return () => { if (this.guard === guard) this.guard = undefined }
  }

  async open (): Promise<void> {
    // We hold the database lock, so nothing else writes temp files: any there are leftovers of a killed process.
    await fs.rm(this.layout.tmp, { recursive: true, force: true })
    await fs.mkdir(this.layout.tmp, { recursive: true })
    await this.index.open()
  }

  /** Waits for index work in progress (commits, deletes, compactions) and closes the pack files. */
  async close (): Promise<void> {
    await this.index.close()
  }

  /** Where the blob's bytes are now (a test or a tool looking at the raw storage); undefined when not stored. */
  async locate (sha1: string): Promise<BlobLocation | undefined> {
    const info = await this.stat(sha1)
    if (info === undefined) return undefined
    const { file, base } = this.whereIs(sha1, info)
    return { path: file, offset: base, size: info.size, packed: info.place !== 'file' }
  }

  pathOf (sha1: string): string {
    return this.paths.pathOf(sha1)
  }

  getUsage (): Usage {
    return this.index.getUsage()
  }

  /** Pack files, their bytes on disk and their live bytes (see PackFiles.totals). */
  packTotals (): { files: number, bytes: number, liveBytes: number } {
    return this.packs.totals()
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

  /**
   * Holds the blob against deletion (eviction, verify's quarantine) until the returned function is
   * called: a blob being written, fetched or served. Counted: several holders may lease one blob.
   */
  lease (sha1: string): () => void {
    return this.leases.acquire(sha1)
  }

  isLeased (sha1: string): boolean {
    return this.leases.isLeased(sha1)
  }

  /** The blobs leased now. */
  leased (): string[] {
    return this.leases.leased()
  }

  async stat (sha1: string): Promise<LocatedBlob | undefined> {
    return this.index.stat(assertSha1Hex(sha1))
  }

  /** Several stats in one index look-up (a fetch responder's batch of requests). */
  async statMany (sha1s: string[]): Promise<Array<LocatedBlob | undefined>> {
    for (const sha1 of sha1s) assertSha1Hex(sha1)
    return this.index.statMany(sha1s)
  }

  async has (sha1: string): Promise<boolean> {
    return (await this.stat(sha1)) !== undefined
  }

  list (): AsyncGenerator<LocatedBlob> {
    return this.index.list()
  }

  /** Every index entry in sha1 order, a block at a time (a rebuild of the space index). */
  scanEntries (): AsyncGenerator<Array<[string, BlobEntry]>> {
    return this.index.scanEntries()
  }

  async putFile (file: string, options: PutOptions = {}): Promise<PutResult> {
    const size = await this.ingest.checkFile(file)
    return this.withTicket(options, async (ticket) => this.commit(await this.ingest.file(file, size, options, ticket)))
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    if (bytes.byteLength > SMALL_IO_MAX_BYTES || options.chunkSize !== undefined) return this.put([bytes], options)
    return this.withTicket(options, async (ticket) => {
      const content = await this.ingest.bytes(bytes, options, ticket)
      // a copy: a view would keep the caller's whole buffer alive in whoever keeps the head
      const result = await this.commit(content, { head: Buffer.from(bytes.subarray(0, ADDED_HEAD_BYTES)) })
      // a temp file reported its progress when written; bytes for a pack once they are in it
      if ('bytes' in content) options.onProgress?.(bytes.byteLength)
      return result
    })
  }

  /** Streams content into the store. A concurrent or repeated write of the same content is success. */
  async put (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    return this.withTicket(options, async (ticket) => this.commit(await this.ingest.stream(source, options, ticket)))
  }

  /**
   * Takes a finished file from elsewhere in the data directory (a completed download) into the
   * store by rename, after re-hashing it (unless `hashed`: the caller already hashed exactly
   * these bytes to `expectedSha1`): no second copy of the data is made.
   */
  async adoptFile (file: string, expectedSha1: string, options: { hashed?: boolean } = {}): Promise<PutResult> {
    return this.commit(await this.ingest.adopt(file, expectedSha1, options.hashed === true), { adopted: true })
  }

  /** Runs a write under a space ticket (unless the caller reserved its space already). */
  private async withTicket (options: PutOptions, write: (ticket: WriteTicket | undefined) => Promise<PutResult>): Promise<PutResult> {
    const ticket = options.reserved === true ? undefined : this.guard?.beginWrite({ pinned: options.pinned === true })
    let stored: string | undefined
    try {
      const result = await write(ticket)
      stored = result.sha1
      return result
    } finally {
      ticket?.end(stored)
    }
  }

  /**
   * Commits ingested content under a lease and tells the listeners of a new blob. On failure the
   * temp file goes, except an adopted file's: that stays the caller's.
   */
  private async commit (content: Ingested, options: { head?: Uint8Array, adopted?: boolean } = {}): Promise<PutResult> {
    const { sha1, size } = content
    const release = this.leases.acquire(sha1)
    try {
      const info = await this.index.commit(content, sha1, size)
      if (info !== undefined) for (const listener of this.listeners) listener(info, options.head)
      const result: PutResult = { sha1, size, added: info !== undefined }
      if (content.chunker !== undefined) result.chunks = await content.chunker.digest()
      return result
    } catch (err) {
      if (options.adopted === true) throw err
      const tmp = 'tmp' in content ? content.tmp : undefined
      if (tmp !== undefined) await fs.rm(tmp, { force: true })
      throw writeError(err, tmp)
    } finally {
      release()
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
    const short = (): BlobNotFoundError => new BlobNotFoundError(`blob file of sha1://${sha1} is shorter than its index says (run trove verify)`)
    const release = this.beginRead(sha1, options)
    try {
      if (length <= SMALL_IO_MAX_BYTES) {
        // reads asked for together (a fetch responder's batch) go to the worker in one hand-off
        try {
          return await this.io.read(file, base + offset, length)
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'SHORT_READ') throw short()
          if (code === 'ENOENT') throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
          throw err
        }
      }
      const buf = Buffer.allocUnsafe(length)
      const fh = await fs.open(file, 'r')
      try {
        if (await readFully(fh, buf, base + offset) < length) throw short()
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
    const given = options.info
    const info = given !== undefined && 'place' in given ? given : await this.stat(sha1)
    if (info === undefined) throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
    return { ...resolveRange(info.size, options), ...this.whereIs(sha1, info) }
  }

  /** The file holding the blob's bytes and the offset of its first byte in it. */
  private whereIs (sha1: string, info: LocatedBlob): { file: string, base: number } {
    if (info.place === 'file') return { file: this.paths.pathOf(sha1), base: 0 }
    return { file: this.packs.pathOf(info.place.pack), base: info.place.at }
  }

  /**
   * Removes blobs with one index batch (eviction; a single delete is a batch of one). Leased
   * blobs and those `keep` vetoes stay; see BlobIndex.deleteMany for the order that keeps a crash
   * harmless and for files that cannot be removed.
   */
  async deleteBatch (sha1s: string[], options: DeleteBatchOptions = {}): Promise<DeleteBatchResult> {
    for (const sha1 of sha1s) assertSha1Hex(sha1)
    const keep = options.keep
    return this.index.deleteMany(sha1s, { ...options, keep: (sha1) => this.leases.isLeased(sha1) || keep?.(sha1) === true })
  }

  /**
   * Removes the files of blobs the index does not keep in a file of their own (see
   * BlobIndex.removeOrphanFiles): what a run killed between its index batch and its file removals
   * left behind.
   */
  async removeOrphanFiles (sha1s: string[]): Promise<void> {
    // only blob names: anything else is not a file of this store
    const named = sha1s.filter((s) => isSha1Hex(s))
    if (named.length === 0) return
    await this.index.removeOrphanFiles(named)
  }

  /** Re-hashes everything stored and reconciles the index with what is there (verify.ts). */
  async verify (options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyStore({ layout: this.layout, paths: this.paths, index: this.index, packs: this.packs, leases: this.leases }, options)
  }
}
