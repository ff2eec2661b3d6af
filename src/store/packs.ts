import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { BatchOp, TroveDb } from '../db.js'
import { packKey, parsePackKey } from '../db/keys.js'
import type { BlobEntry, PackState } from '../db/schema.js'
import { InvalidArgumentError, PackDamagedError } from '../errors.js'
import { syncDir, writeFully } from '../fs-util.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import { PACK_COMPACT_GROUP_BYTES, PACK_COMPACT_LIVE_RATIO, PACK_HEADER_BYTES, PACK_RETIRE_GRACE_MS, PACK_TARGET_BYTES } from './constants.js'
import { walkPack, type PackRecord, type WalkOptions } from './pack-walk.js'

export type { PackRecord } from './pack-walk.js'

/** Where a packed blob's bytes lie: pack number and the offset of its data (past its header). */
export interface PackLocation {
  pack: number
  at: number
}

export interface PackFilesComponents {
  db: TroveDb
  dir: string
  logger?: ComponentLogger
}

export interface PackFilesInit {
  durable?: boolean
  targetBytes?: number
  compactLiveRatio?: number
  retireGraceMs?: number
}

/** The caller's side of an append or a release: LevelDB operations to write, then commit() once they are written. */
export interface PackChange<T> {
  value: T
  ops: BatchOp[]
  commit: () => void
}

/**
 * Small blobs live back to back in pack files (`packs/<n>.pack`), each record a 24-byte header
 * (20-byte sha1, 4-byte big-endian length) and the bytes. One file per small blob cost an inode,
 * four system calls and an fsync each; a pack costs one write and one fsync per batch of blobs.
 * (On a journal-less ext4, creating files soon after many were deleted also costs ~0.3 ms of
 * kernel time per inode: bench/small fell from ~6,500 to ~2,500 blobs/s.)
 *
 * A record is live while the blob index points at it. The index keeps each pack's committed
 * length and live bytes, changed in the same LevelDB batch as the blobs they describe, so a crash
 * after an append but before its batch leaves only a tail that open() cuts off. Deleting a packed
 * blob only updates the index; a pack whose live share falls below PACK_COMPACT_LIVE_RATIO is
 * compacted: its live records are copied to the active pack, the index moved, the old file removed
 * after PACK_RETIRE_GRACE_MS (a reader that looked the blob up just before still finds it).
 *
 * Every batch operation made here is `holdsUnchanged`: pack bookkeeping and a compaction's moves
 * change nothing that holds a blob.
 *
 * Not safe for concurrent use: BlobIndex calls everything that writes from its index queue.
 */
export class PackFiles {
  readonly dir: string
  private readonly db: TroveDb
  private readonly log: Logger
  private readonly durable: boolean
  private readonly targetBytes: number
  private readonly compactLiveRatio: number
  private readonly retireGraceMs: number
  private readonly states = new Map<number, PackState>()
  private active: { id: number, fh: fs.FileHandle } | undefined
  private readonly retiring = new Map<number, NodeJS.Timeout>()
  /**
   * Packs not to append to or compact: shorter than the index says, or a compaction found them
   * damaged. verify evacuates damaged packs (evacuate()) and unseals the rest.
   */
  private readonly sealed = new Set<number>()
  /** A pack created whose folder entry is not fsynced yet (a failed first append leaves it so). */
  private unsyncedName: number | undefined
  /** Next pack number: above every pack known, retiring or left on disk. */
  private nextId = 1

  constructor (components: PackFilesComponents, init: PackFilesInit = {}) {
    this.db = components.db
    this.dir = components.dir
    this.log = (components.logger ?? defaultLogger()).forComponent('packs')
    this.durable = init.durable ?? true
    this.targetBytes = init.targetBytes ?? PACK_TARGET_BYTES
    this.compactLiveRatio = init.compactLiveRatio ?? PACK_COMPACT_LIVE_RATIO
    this.retireGraceMs = init.retireGraceMs ?? PACK_RETIRE_GRACE_MS
  }

  pathOf (pack: number): string {
    return path.join(this.dir, `${String(pack).padStart(8, '0')}.pack`)
  }

  /**
   * Pack files, their bytes on disk and the bytes of live records in them (headers included): the
   * difference is deleted blobs' dead space, which compaction bounds (see PACK_COMPACT_LIVE_RATIO).
   */
  totals (): { files: number, bytes: number, liveBytes: number } {
    let bytes = 0
    let liveBytes = 0
    for (const state of this.states.values()) {
      bytes += state.size
      liveBytes += state.live
    }
    return { files: this.states.size, bytes, liveBytes }
  }

  /** Packs and their states, as the index has them. */
  list (): Array<[number, PackState]> {
    return [...this.states.entries()].sort((a, b) => a[0] - b[0])
  }

  /**
   * Loads the packs' states, cuts each file back to its committed length (the tail of an append
   * whose index batch never ran) and removes files the index does not know (a compaction or a
   * new pack that a crash interrupted).
   */
  async open (): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true })
    for await (const [key, state] of this.db.packs.iterator()) {
      this.states.set(parsePackKey(key), state)
      this.nextId = Math.max(this.nextId, parsePackKey(key) + 1)
    }
    for (const name of await fs.readdir(this.dir)) {
      const id = parsePackName(name)
      const file = path.join(this.dir, name)
      if (id !== undefined) this.nextId = Math.max(this.nextId, id + 1)
      if (id === undefined || !this.states.has(id)) {
        await fs.rm(file, { force: true })
        continue
      }
      const size = (this.states.get(id) as PackState).size
      const stat = await fs.stat(file)
      if (stat.size > size) await fs.truncate(file, size)
      if (stat.size < size) this.sealed.add(id)
    }
  }

  async close (): Promise<void> {
    await this.active?.fh.close()
    this.active = undefined
    for (const [id, timer] of this.retiring) {
      clearTimeout(timer)
      await fs.rm(this.pathOf(id), { force: true })
    }
    this.retiring.clear()
  }

  /**
   * Appends records for `items` (durably when the store is) and answers where each landed. Nothing
   * is visible until the caller has written `ops` and called commit(); until then the next append
   * writes over these bytes, and a restart cuts them off.
   */
  async append (items: Array<{ sha1: string, bytes: Uint8Array }>): Promise<PackChange<PackLocation[]>> {
    let total = 0
    for (const item of items) total += PACK_HEADER_BYTES + item.bytes.byteLength
    const { id, fh } = await this.activeFor(total)
    const state = this.states.get(id) ?? { size: 0, live: 0 }
    const buf = Buffer.allocUnsafe(total)
    const locations: PackLocation[] = []
    let p = 0
    for (const item of items) {
      buf.write(item.sha1, p, 20, 'hex')
      buf.writeUInt32BE(item.bytes.byteLength, p + 20)
      p += PACK_HEADER_BYTES
      locations.push({ pack: id, at: state.size + p })
      buf.set(item.bytes, p)
      p += item.bytes.byteLength
    }
    await writeFully(fh, buf, state.size)
    if (this.durable) {
      await fh.datasync()
      // the new pack's name must survive a crash before any record in it is indexed
      if (this.unsyncedName === id) {
        await syncDir(this.dir)
        this.unsyncedName = undefined
      }
    }
    const next = { size: state.size + total, live: state.live + total }
    return {
      value: locations,
      ops: [{ type: 'put', sublevel: this.db.packs, key: packKey(id), value: next, holdsUnchanged: true }],
      commit: () => { this.states.set(id, next) }
    }
  }

  /** Index changes for records no longer live (their blobs deleted); commit() after writing them. */
  release (records: Array<{ pack: number, size: number }>, options: { keep?: boolean } = {}): PackChange<void> {
    const next = new Map<number, PackState>()
    for (const r of records) {
      const state = next.get(r.pack) ?? this.states.get(r.pack)
      if (state === undefined) continue
      next.set(r.pack, { size: state.size, live: Math.max(0, state.live - PACK_HEADER_BYTES - r.size) })
    }
    const ops: BatchOp[] = []
    const emptied: number[] = []
    for (const [id, state] of next) {
      if (state.live === 0 && id !== this.active?.id && options.keep !== true) {
        emptied.push(id)
        ops.push({ type: 'del', sublevel: this.db.packs, key: packKey(id), holdsUnchanged: true })
      } else {
        ops.push({ type: 'put', sublevel: this.db.packs, key: packKey(id), value: state, holdsUnchanged: true })
      }
    }
    return {
      value: undefined,
      ops,
      commit: () => {
        for (const [id, state] of next) this.states.set(id, state)
        for (const id of emptied) {
          this.states.delete(id)
          this.retire(id)
        }
      }
    }
  }

  /**
   * Index changes that set each pack's live bytes to what verify counted (absent: none live). On
   * commit every pack is unsealed: verify has just checked them all and evacuated the damaged ones
   * (a pack whose file is gone among them).
   */
  reconcile (liveByPack: Map<number, number>): PackChange<void> {
    const next = new Map<number, PackState>()
    const ops: BatchOp[] = []
    for (const [id, state] of this.states) {
      const live = liveByPack.get(id) ?? 0
      if (live === state.live) continue
      next.set(id, { size: state.size, live })
      ops.push({ type: 'put', sublevel: this.db.packs, key: packKey(id), value: { size: state.size, live }, holdsUnchanged: true })
    }
    return {
      value: undefined,
      ops,
      commit: () => {
        for (const [id, state] of next) this.states.set(id, state)
        this.sealed.clear()
      }
    }
  }

  /**
   * Packs whose live share has fallen below the compaction ratio; never the one being appended
   * to, nor the newest (appends after a restart go on in it).
   */
  compactable (): number[] {
    const out: number[] = []
    for (const [id, state] of this.states) {
      if (id === this.active?.id || id === this.nextId - 1 || state.size === 0 || this.sealed.has(id)) continue
      if (state.live / state.size < this.compactLiveRatio) out.push(id)
    }
    return out
  }

  /**
   * Copies pack `id`'s live records (those the index still points at) to the active pack in groups
   * of at most PACK_COMPACT_GROUP_BYTES, each group with its own index batch (the blobs' new
   * locations, both packs' states), so memory stays bounded and every step is consistent on its
   * own. Then drops the pack; its file goes after the grace period. Answers the records moved.
   *
   * The walk is checked against the index before anything moves: the live records found must add
   * up to the pack's live bytes, with the sizes the index has, and each must hash to its sha1. A
   * damaged length field can hide a live record from the walk without running past the end;
   * dropping the pack would then lose it. A pack that fails any check is sealed and left for
   * verify (PackDamagedError), which finds its blobs through the index and evacuates them.
   */
  async compact (id: number): Promise<number> {
    // its live records must go to another pack: make sure appends cannot pick this one
    if (id === this.active?.id || id === this.nextId - 1) throw new InvalidArgumentError(`pack ${id} is the one appends go to; it cannot be compacted`)
    const damaged = (why: string): Error => {
      this.sealed.add(id)
      return new PackDamagedError(`pack ${id} ${why}; run trove verify`)
    }
    const headers: PackRecord[] = []
    const walk: { damagedAt?: number } = {}
    try {
      for await (const r of this.records(id, { walk })) headers.push(r)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw damaged('has no file')
      throw err
    }
    if (walk.damagedAt !== undefined) throw damaged(`has a record running past its end at offset ${walk.damagedAt}`)
    const entries = await this.db.blobs.getMany(headers.map((r) => r.sha1))
    const live = new Map<number, BlobEntry>()
    let liveBytes = 0
    for (const [i, r] of headers.entries()) {
      const e = entries[i]
      if (e?.pack !== id || e.at !== r.at) continue
      if (e.size !== r.size) throw damaged(`has a record at offset ${r.at} whose length is not the blob's`)
      live.set(r.at, e)
      liveBytes += PACK_HEADER_BYTES + e.size
    }
    const expected = this.states.get(id)?.live ?? 0
    if (liveBytes !== expected) throw damaged(`holds ${liveBytes} live bytes where the index counts ${expected}`)
    const self = this
    return this.moveOut(id, (async function * () {
      if (live.size === 0) return
      for await (const r of self.records(id, { withData: true })) {
        const entry = live.get(r.at)
        if (entry === undefined) continue
        if (createHash('sha1').update(r.data as Buffer).digest('hex') !== r.sha1) throw damaged(`has a corrupt record at offset ${r.at}`)
        // a copy: the walk's buffer is reused
        yield { sha1: r.sha1, bytes: Buffer.from(r.data as Buffer), entry }
      }
    })())
  }

  /**
   * verify's repair of a damaged pack: reads each blob the index places in it (`items`) straight
   * from its offset, moves those that hash to their sha1 to the active pack, and drops the pack.
   * Answers the others (the caller drops their entries): `corrupt` with the bytes found,
   * `missing` when the file ends before them.
   */
  async evacuate (id: number, items: Array<{ sha1: string, entry: BlobEntry }>): Promise<{ moved: Array<{ sha1: string, size: number, to: PackLocation }>, corrupt: Array<{ sha1: string, actual: string, bytes: Buffer }>, missing: string[] }> {
    // appends must go elsewhere, also when this is the active or newest pack
    this.sealed.add(id)
    if (this.active?.id === id) {
      await this.active.fh.close()
      this.active = undefined
    }
    const corrupt: Array<{ sha1: string, actual: string, bytes: Buffer }> = []
    const missing: string[] = []
    const moved: Array<{ sha1: string, size: number, to: PackLocation }> = []
    const fh = await fs.open(this.pathOf(id), 'r').catch(() => undefined)
    try {
      const self = this
      await this.moveOut(id, (async function * () {
        for (const { sha1, entry } of [...items].sort((a, b) => (a.entry.at ?? 0) - (b.entry.at ?? 0))) {
          const bytes = Buffer.alloc(entry.size)
          const { bytesRead } = fh === undefined ? { bytesRead: -1 } : await fh.read(bytes, 0, entry.size, entry.at)
          if (bytesRead < entry.size) {
            missing.push(sha1)
            continue
          }
          const actual = createHash('sha1').update(bytes).digest('hex')
          if (actual !== sha1) {
            corrupt.push({ sha1, actual, bytes })
            continue
          }
          yield { sha1, bytes, entry }
        }
      })(), (sha1, size, to) => { moved.push({ sha1, size, to }) })
    } finally {
      await fh?.close()
    }
    this.sealed.delete(id)
    return { moved, corrupt, missing }
  }

  /** Appends what `source` yields to the active pack in groups, moving the index with each group; then drops pack `id`. */
  private async moveOut (id: number, source: AsyncIterable<{ sha1: string, bytes: Uint8Array, entry: BlobEntry }>, onMoved?: (sha1: string, size: number, to: PackLocation) => void): Promise<number> {
    let moved = 0
    let group: Array<{ sha1: string, bytes: Uint8Array, entry: BlobEntry }> = []
    let groupBytes = 0
    const flush = async (): Promise<void> => {
      if (group.length === 0) return
      const appended = await this.append(group)
      const released = this.release(group.map((g) => ({ pack: id, size: g.bytes.byteLength })), { keep: true })
      const ops: BatchOp[] = [...appended.ops, ...released.ops]
      for (const [i, g] of group.entries()) {
        const { pack, at } = appended.value[i]
        // a move is not a change of what holds the blob. Seen as one, it made a GC run veto (as
        // 'changing') the blobs it was about to evict and yield to a writer that was not there
        ops.push({ type: 'put', sublevel: this.db.blobs, key: g.sha1, value: { ...g.entry, pack, at }, holdsUnchanged: true })
      }
      await this.db.batch(ops)
      appended.commit()
      released.commit()
      for (const [i, g] of group.entries()) onMoved?.(g.sha1, g.bytes.byteLength, appended.value[i])
      moved += group.length
      group = []
      groupBytes = 0
    }
    for await (const item of source) {
      group.push(item)
      groupBytes += item.bytes.byteLength
      if (groupBytes >= PACK_COMPACT_GROUP_BYTES) await flush()
    }
    await flush()
    await this.db.batch([{ type: 'del', sublevel: this.db.packs, key: packKey(id), holdsUnchanged: true }])
    this.states.delete(id)
    this.retire(id)
    return moved
  }

  /** The records of pack `id` up to its committed length (see walkPack). */
  records (id: number, options: WalkOptions = {}): AsyncGenerator<PackRecord> {
    return walkPack(this.pathOf(id), this.states.get(id)?.size ?? 0, options)
  }

  /** The pack to append `bytes` to: the active one, or a new one once it has reached its target size. */
  private async activeFor (bytes: number): Promise<{ id: number, fh: fs.FileHandle }> {
    if (this.active !== undefined) {
      const size = this.states.get(this.active.id)?.size ?? 0
      if (!this.sealed.has(this.active.id) && (size === 0 || size + bytes <= this.targetBytes)) return this.active
      await this.active.fh.close()
      this.active = undefined
    }
    // reuse the newest pack after a restart while it has room, so restarts do not leave many small packs
    const newest = this.nextId - 1
    const state = this.states.get(newest)
    if (state !== undefined && state.size + bytes <= this.targetBytes && !this.sealed.has(newest)) {
      // a pack file lost from under the index (verify reports its blobs) must not stop every later write
      const fh = await fs.open(this.pathOf(newest), 'r+').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (fh !== undefined) {
        this.active = { id: newest, fh }
        return this.active
      }
    }
    const id = this.nextId++
    this.active = { id, fh: await fs.open(this.pathOf(id), 'wx+') }
    this.unsyncedName = id
    return this.active
  }

  private retire (id: number): void {
    if (this.active?.id === id) return
    const timer = setTimeout(() => {
      this.retiring.delete(id)
      // a file left behind is only space: open() removes files the index does not know
      void fs.rm(this.pathOf(id), { force: true }).catch((err: unknown) => { this.log.warn(`removing retired pack ${id} failed`, err) })
    }, this.retireGraceMs)
    timer.unref()
    this.retiring.set(id, timer)
  }
}

function parsePackName (name: string): number | undefined {
  const m = /^(\d{8})\.pack$/.exec(name)
  return m === null ? undefined : Number(m[1])
}
