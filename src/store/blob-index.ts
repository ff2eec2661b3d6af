import fs from 'node:fs/promises'
import path from 'node:path'
import { scan, type BatchOp, type TroveDb } from '../db.js'
import { META_USAGE } from '../db/keys.js'
import type { BlobEntry, Usage } from '../db/schema.js'
import { syncDir } from '../fs-util.js'
import type { ComponentLogger, Logger } from '../logger.js'
import { SerialQueue } from '../serial.js'
import type { PackFiles } from './packs.js'
import type { ShardedPaths } from './paths.js'
import type { SmallFileIo } from './small-io.js'
import type { BlobInfo, BlobPlace, CommitContent, DeleteBatchOptions, DeleteBatchResult, LocatedBlob } from './types.js'

/**
 * verify's changes to the index. Made under the index lock (no commit or delete runs meanwhile) and
 * written in one batch when the repair's function returns; a pack's evacuation writes its own.
 */
export interface IndexRepair {
  /** The counters now: writes that finished before the repair began are in them. */
  usage: () => Usage
  /** Every index entry, in sha1 order. */
  entries: () => AsyncIterable<[string, BlobEntry]>
  /** Drops a blob's entry (its bytes are gone or corrupt). */
  unindex: (sha1: string) => void
  /** Writes a blob's entry (a size corrected, a file found without one). */
  reindex: (sha1: string, entry: BlobEntry) => void
  /** Moves a damaged pack's intact blobs to another pack and drops it (PackFiles.evacuate). */
  evacuate: PackFiles['evacuate']
  /** Sets each pack's live bytes to what was counted (PackFiles.reconcile). */
  reconcilePacks: (liveByPack: Map<number, number>) => void
  /** The counters as counted. */
  setUsage: (usage: Usage) => void
}

export interface BlobIndexComponents {
  db: TroveDb
  packs: PackFiles
  paths: ShardedPaths
  io: SmallFileIo
  logger: ComponentLogger
}

export interface BlobIndexInit {
  /** fsync blob folders before a blob counts as stored. */
  durable?: boolean
}

interface PendingCommit {
  content: CommitContent
  sha1: string
  size: number
  resolve: (info: LocatedBlob | undefined) => void
  reject: (err: unknown) => void
}

function toLocated (sha1: string, entry: BlobEntry): LocatedBlob {
  const place: BlobPlace = entry.pack !== undefined && entry.at !== undefined ? { pack: entry.pack, at: entry.at } : 'file'
  return { sha1, size: entry.size, addedAt: entry.addedAt, place }
}

/**
 * The committed state of the store: the blob index (`db.blobs`), the byte counters and the pack
 * bookkeeping, changed in one LevelDB batch at a time by one writer (the index queue). Commits
 * that arrive while a batch runs go together in the next. Moving a finished file into place and
 * removing a deleted one happen here too, in the order that keeps a crash harmless.
 */
export class BlobIndex {
  private readonly db: TroveDb
  private readonly packs: PackFiles
  private readonly paths: ShardedPaths
  private readonly io: SmallFileIo
  private readonly log: Logger
  private readonly durable: boolean
  private readonly queue = new SerialQueue()
  private readonly knownShards = new Set<string>()
  private readonly pendingCommits: PendingCommit[] = []
  private commitScheduled = false
  private compactionQueued = false
  private usage: Usage = { bytes: 0, blobs: 0 }

  constructor (components: BlobIndexComponents, init: BlobIndexInit = {}) {
    this.db = components.db
    this.packs = components.packs
    this.paths = components.paths
    this.io = components.io
    this.log = components.logger.forComponent('store')
    this.durable = init.durable ?? true
  }

  async open (): Promise<void> {
    this.usage = (await this.db.meta.get(META_USAGE) as Usage | undefined) ?? { bytes: 0, blobs: 0 }
    await this.packs.open()
  }

  /** Waits for index work in progress (commits, deletes, compactions) and closes the pack files. */
  async close (): Promise<void> {
    await this.queue.run(async () => { await this.packs.close() })
  }

  getUsage (): Usage {
    return { ...this.usage }
  }

  async stat (sha1: string): Promise<LocatedBlob | undefined> {
    const entry = await this.db.blobs.get(sha1)
    return entry === undefined ? undefined : toLocated(sha1, entry)
  }

  async statMany (sha1s: string[]): Promise<Array<LocatedBlob | undefined>> {
    const entries = await this.db.blobs.getMany(sha1s)
    return entries.map((entry, i) => entry === undefined ? undefined : toLocated(sha1s[i], entry))
  }

  async * list (): AsyncGenerator<LocatedBlob> {
    for await (const [sha1, entry] of this.db.blobs.iterator()) yield toLocated(sha1, entry)
  }

  /** Every index entry in sha1 order, a block at a time (a rebuild of the space index). */
  scanEntries (): AsyncGenerator<Array<[string, BlobEntry]>> {
    return scan(this.db.blobs)
  }

  /**
   * Moves a finished temp file into place, or appends bytes held in memory to a pack, and indexes
   * the blob, serialized with deletes. Undefined when the blob was stored already (the temp file
   * is then removed).
   */
  async commit (content: CommitContent, sha1: string, size: number): Promise<LocatedBlob | undefined> {
    if ('tmp' in content) {
      const shard = path.dirname(this.paths.pathOf(sha1))
      if (!this.knownShards.has(shard)) {
        await fs.mkdir(shard, { recursive: true })
        this.knownShards.add(shard)
      }
    }
    return new Promise<LocatedBlob | undefined>((resolve, reject) => {
      this.pendingCommits.push({ content, sha1, size, resolve, reject })
      if (this.commitScheduled) return
      this.commitScheduled = true
      void this.queue.run(async () => {
        // whatever arrives while this batch runs goes into the next one
        this.commitScheduled = false
        await this.commitBatch(this.pendingCommits.splice(0))
      })
    })
  }

  /**
   * Commits every write that finished while the previous batch ran, in one step: one index
   * look-up, renames and folder syncs in parallel, one append to the pack, one LevelDB batch.
   * Thousands of small blobs (a fetched ref) then cost a few batches instead of one serialized
   * round each.
   */
  private async commitBatch (batch: PendingCommit[]): Promise<void> {
    try {
      const existing = await this.db.blobs.getMany(batch.map((c) => c.sha1))
      const fresh: PendingCommit[] = []
      const seen = new Set<string>()
      await Promise.all(batch.map(async (c, i) => {
        if (existing[i] !== undefined || seen.has(c.sha1)) {
          if ('tmp' in c.content) await this.io.remove(c.content.tmp)
          c.resolve(undefined)
          return
        }
        seen.add(c.sha1)
        fresh.push(c)
      }))
      const renamed: PendingCommit[] = []
      const packed = fresh.filter((c) => 'bytes' in c.content)
      await Promise.all(fresh.map(async (c) => {
        if (!('tmp' in c.content)) return
        try {
          // a batch's renames go to the worker together: one hand-off instead of one each
          await this.io.rename(c.content.tmp, this.paths.pathOf(c.sha1))
          renamed.push(c)
        } catch (err) {
          c.reject(err)
        }
      }))
      // a failed append rejects the packed blobs only: the renamed files are in place and get indexed
      const appended = packed.length > 0
        ? await this.packs.append(packed.map((c) => ({ sha1: c.sha1, bytes: (c.content as { bytes: Uint8Array }).bytes }))).catch((err: unknown) => {
          for (const c of packed) c.reject(err)
          return undefined
        })
        : undefined
      if (renamed.length === 0 && appended === undefined) return
      if (this.durable) await Promise.all([...new Set(renamed.map((c) => path.dirname(this.paths.pathOf(c.sha1))))].map(syncDir))
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
      for (const { c, entry } of stored) c.resolve(toLocated(c.sha1, entry))
    } catch (err) {
      // resolving twice is a no-op, so this only reaches the commits not yet answered
      for (const c of batch) c.reject(err)
    }
  }

  /**
   * Removes several blobs with one index batch. Those `keep` vetoes stay; the index and counters
   * change before the files go, so a crash in between leaves files without entries (the caller
   * records its intent in `extraOps` to finish the job). A file that cannot be removed is
   * reported, not thrown: one bad blob must not stop an eviction run.
   */
  async deleteMany (sha1s: string[], options: DeleteBatchOptions = {}): Promise<DeleteBatchResult> {
    return this.queue.run(async () => {
      const entries = await this.db.blobs.getMany(sha1s)
      const deleted: BlobInfo[] = []
      const packed = new Set<string>()
      const records: Array<{ pack: number, size: number }> = []
      for (const [i, sha1] of sha1s.entries()) {
        const entry = entries[i]
        if (entry === undefined || options.keep?.(sha1) === true) continue
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
          await this.io.remove(this.paths.pathOf(d.sha1))
        } catch (err) {
          errors.push({ sha1: d.sha1, error: (err as NodeJS.ErrnoException).code ?? String(err) })
        }
      }))
      return { deleted, errors }
    })
  }

  /**
   * Compacts packs whose live share fell below the threshold, after the deletes that made them
   * so. Queued behind them on the index queue; a failure leaves the pack as it was (consistent)
   * for the next time, and is logged.
   */
  private queueCompaction (): void {
    if (this.compactionQueued || this.packs.compactable().length === 0) return
    this.compactionQueued = true
    void this.queue.run(async () => {
      this.compactionQueued = false
      for (const id of this.packs.compactable()) await this.packs.compact(id)
    }).catch((err: unknown) => {
      this.log.warn('compacting a pack failed (it stays as it is)', err)
    })
  }

  /**
   * Removes the files of blobs the index does not keep in a file of their own: deleted ones (a
   * caller killed between its index batch and the file removals leaves theirs behind) and ones
   * stored again in a pack since (such a file is only space). A blob stored again as a file keeps
   * it. Serialized with commits, so a file being moved into place is never taken for an orphan.
   */
  async removeOrphanFiles (sha1s: string[]): Promise<void> {
    await this.queue.run(async () => {
      const entries = await this.db.blobs.getMany(sha1s)
      for (const [i, sha1] of sha1s.entries()) {
        const entry = entries[i]
        // indexed as a file of its own: the file is the blob
        if (entry !== undefined && entry.pack === undefined) continue
        await fs.rm(this.paths.pathOf(sha1), { force: true })
      }
    })
  }

  /** Runs verify's `fn` under the index lock, then writes what it changed in one batch. */
  async repair (fn: (repair: IndexRepair) => Promise<void>): Promise<void> {
    await this.queue.run(async () => {
      const ops: BatchOp[] = []
      const written: Array<() => void> = []
      let usage: Usage | undefined
      await fn({
        usage: () => this.getUsage(),
        entries: () => this.db.blobs.iterator(),
        unindex: (sha1) => { ops.push({ type: 'del', sublevel: this.db.blobs, key: sha1 }) },
        reindex: (sha1, entry) => { ops.push({ type: 'put', sublevel: this.db.blobs, key: sha1, value: entry }) },
        evacuate: async (id, items) => this.packs.evacuate(id, items),
        reconcilePacks: (liveByPack) => {
          const reconciled = this.packs.reconcile(liveByPack)
          ops.push(...reconciled.ops)
          written.push(reconciled.commit)
        },
        setUsage: (u) => { usage = u }
      })
      if (usage !== undefined) ops.push({ type: 'put', sublevel: this.db.meta, key: META_USAGE, value: usage })
      if (ops.length > 0) await this.db.batch(ops)
      for (const commit of written) commit()
      if (usage !== undefined) this.usage = usage
    })
  }
}
