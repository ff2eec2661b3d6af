import { scan, type BatchOp, type TroveDb } from '../db.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import {
  INTENTS_KEYS, LEGACY_INTENT_KEYS, MIN_COPIES_KEYS, SPACE_TOTALS, SPACE_VERSION, evictKey, intentsKey, linkKey, parseLegacyIntentKey, parseMinCopiesKey
} from '../db/keys.js'
import type { BlobState, ClassTotals, EvictValue } from '../db/schema.js'
import type { RefStore } from '../refs/ref-store.js'
import { SerialQueue } from '../serial.js'
import type { BlobInfo, BlobStore } from '../store/blob-store.js'
import type { AccessTracker } from './access-tracker.js'
import { RECLASSIFY_BATCH, RECLASSIFY_BATCH_DURING_RUN, REBUILD_THRESHOLD } from './constants.js'
import { Cursor } from './cursor.js'
import { HoldComputer, UNHELD, PROTECTED, anyLinks, childrenOf, combine, edgeHold, type HolderSource } from './holds.js'
import { extractLinks, looksLikeJson, mayHoldLinks } from './links.js'
import { CLASS_NAMES, emptyTotals, sameHold, type Hold } from './state.js'
import type { WriteWatch } from './watch.js'

/** Bump when the layout of the space sublevels changes: the index is then rebuilt at open. */
export const INDEX_VERSION = 1
/** Bytes read to decide whether a blob may be a JSON document worth parsing. */
const SNIFF_BYTES = 64
/** Operations per LevelDB batch when rebuilding. */
const REBUILD_BATCH_OPS = 10_000
/**
 * Recently stored blobs whose first bytes (from the store's added event) are kept: ~0.25 KB each,
 * so at most ~4 MB. Enough for reclassification to find them while it trails a fetch of thousands.
 */
const RECENT_HEADS = 16_384

/** What the index reads of the refs: holds per blob, and every edge and pin for a rebuild. */
export type SpaceRefs = HolderSource & Pick<RefStore, 'scanHolders' | 'scanPins'>

export interface SpaceIndexComponents {
  db: TroveDb
  store: BlobStore
  refs: SpaceRefs
  watch: WriteWatch
  access: AccessTracker
  /** Where a failed background reclassification is reported. */
  logger?: ComponentLogger
}

export interface DeleteCandidate {
  sha1: string
  /** The eviction index key it was planned under; a blob whose key moved since is not deleted. */
  key: string
  size: number
}

export interface DeleteOutcome {
  deleted: BlobInfo[]
  errors: Array<{ sha1: string, error: string }>
}

/**
 * The derived state of space management: per-blob hold class, the eviction index (sorted in
 * eviction order), links between JSON blobs and what they reference, and the bytes per class.
 * Every write to it goes through one queue, so the counters stay exact. It follows the ref and
 * blob stores through the dirty marks of WriteWatch and can always be rebuilt from them.
 */
export class SpaceIndex {
  totals: ClassTotals = emptyTotals()
  lastError: string | undefined
  /**
   * Set while a run deletes: background passes shrink so that each of the run's batches, which
   * queue behind one pass, waits little. Writers keep making marks; the run must still progress.
   */
  runActive = false
  private readonly db: TroveDb
  private readonly store: BlobStore
  private readonly refs: SpaceRefs
  private readonly watch: WriteWatch
  private readonly access: AccessTracker
  private readonly log: Logger
  private readonly queue = new SerialQueue()
  private draining: Promise<void> | undefined
  private closed = false
  /** Numbers intent records; starts from the clock so records of an earlier process are not reused. */
  private intentSeq = Date.now() * 1000
  /** First bytes of blobs stored from memory a moment ago, by sha1 (content-addressed: never stale). */
  private readonly recentHeads = new Map<string, Uint8Array>()
  private unsubscribeAdded: (() => void) | undefined

  constructor (components: SpaceIndexComponents) {
    this.db = components.db
    this.store = components.store
    this.refs = components.refs
    this.watch = components.watch
    this.access = components.access
    this.log = (components.logger ?? defaultLogger()).forComponent('space')
  }

  async open (): Promise<void> {
    this.unsubscribeAdded = this.store.onAdded((info, head) => {
      if (head === undefined) return
      if (this.recentHeads.size >= RECENT_HEADS) this.recentHeads.delete(this.recentHeads.keys().next().value as string)
      this.recentHeads.set(info.sha1, head)
    })
    this.watch.install()
    this.watch.onReady = () => { this.schedule() }
    for await (const [k, v] of this.db.spaceMeta.iterator(MIN_COPIES_KEYS)) this.watch.minCopies.set(parseMinCopiesKey(k), v as number)
    for await (const [key, value] of this.db.spaceDirty.iterator()) this.watch.load(key, value)
    const marks = this.watch.marks.size
    this.totals = (await this.db.spaceMeta.get(SPACE_TOTALS) as ClassTotals | undefined) ?? emptyTotals()
    await this.recoverIntents()
    const version = await this.db.spaceMeta.get(SPACE_VERSION) as number | undefined
    if (version !== INDEX_VERSION || marks > REBUILD_THRESHOLD) await this.rebuild()
    else this.schedule()
  }

  async close (): Promise<void> {
    await this.drain()
    this.closed = true
    await this.draining
    this.watch.uninstall()
    this.unsubscribeAdded?.()
  }

  /** Runs `fn` with no reclassification or other index write in between. */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn)
  }

  /**
   * Reclassifies every blob marked so far. Marks made meanwhile (writers go on during a run,
   * and propagation through links marks children) are left for the background: until then
   * those blobs count as changing, which no run evicts.
   */
  async drain (): Promise<void> {
    // marks propagated from these (children of JSON blobs) carry their origin, so they are included
    const upTo = this.watch.lastSeq
    while (!this.closed && await this.queue.run(async () => this.pass(upTo))) {}
  }

  /** Reclassifies in the background until no committed mark is left. */
  private async drainAll (): Promise<void> {
    while (!this.closed && await this.queue.run(async () => this.pass(Infinity, this.runActive ? RECLASSIFY_BATCH_DURING_RUN : RECLASSIFY_BATCH))) {}
  }

  schedule (): void {
    if (this.draining !== undefined || this.closed) return
    this.draining = (async () => {
      await new Promise((resolve) => setImmediate(resolve))
      try {
        await this.drainAll()
        this.lastError = undefined
      } catch (err) {
        this.lastError = `reclassify: ${(err as Error).message}`
        // retried at the next mark; the blobs stay "changing" (not evicted) meanwhile
        this.log.warn('reclassify failed', err)
      }
    })().finally(() => {
      this.draining = undefined
      if (this.lastError === undefined && this.watch.readyCount > 0) this.schedule()
    })
  }

  /** One batch of marked blobs: recompute their holds and move them in the eviction index. False when none was left. */
  private async pass (upTo: number, limit = RECLASSIFY_BATCH): Promise<boolean> {
    const marked = this.watch.ready(limit, upTo)
    if (marked.length === 0) {
      await this.dropEmptyCovers()
      return false
    }
    const sha1s = marked.map(([s]) => s)
    const [entries, states] = await Promise.all([this.store.statMany(sha1s), this.db.spaceState.getMany(sha1s)])
    const links = await anyLinks(this.db)
    const holds = new HoldComputer({ db: this.db, refs: this.refs, minCopies: this.watch.minCopies, links })
    await holds.prefetch(sha1s.filter((_, i) => entries[i] !== undefined))
    const children = async (sha1: string): Promise<string[]> => links ? childrenOf(this.db, sha1) : []
    const totals = structuredClone(this.totals)
    const ops: BatchOp[] = []
    const propagate = new Set<string>()
    for (const [i, sha1] of sha1s.entries()) {
      const entry = entries[i]
      const old = states[i]
      if (entry === undefined) {
        if (old !== undefined) {
          ops.push({ type: 'del', sublevel: this.db.spaceState, key: sha1 })
          if (old.k !== undefined) ops.push({ type: 'del', sublevel: this.db.spaceEvict, key: old.k })
          subtract(totals, old)
        }
        const kids = await children(sha1)
        if (kids.length === 0) continue
        if ((await holds.holdOf(sha1)).c === 'u') {
          // nothing holds this JSON blob and it is not here: what it referenced is only cache now
          for (const c of kids) {
            ops.push({ type: 'del', sublevel: this.db.spaceLinks, key: linkKey(sha1, c) })
            ops.push({ type: 'del', sublevel: this.db.spaceLinkedBy, key: linkKey(c, sha1) })
          }
        }
        for (const c of kids) propagate.add(c)
        continue
      }
      const hold = await holds.holdOf(sha1)
      let changed = old === undefined || !sameHold(old, hold) || old.s !== entry.size
      if (old === undefined) {
        const links = await this.readLinks(sha1, entry.size)
        for (const c of links) {
          ops.push({ type: 'put', sublevel: this.db.spaceLinks, key: linkKey(sha1, c), value: 1 })
          ops.push({ type: 'put', sublevel: this.db.spaceLinkedBy, key: linkKey(c, sha1), value: 1 })
          if (hold.c !== 'u') propagate.add(c)
        }
        changed = true
      } else if (changed) {
        for (const c of await children(sha1)) propagate.add(c)
      }
      if (!changed) continue
      const a = Math.max(old?.a ?? 0, entry.addedAt, this.access.get(sha1) ?? 0)
      const state = stateFor(sha1, hold, entry.size, old?.t ?? entry.addedAt, a)
      if (old?.k !== undefined && old.k !== state.k) ops.push({ type: 'del', sublevel: this.db.spaceEvict, key: old.k })
      if (state.k !== undefined) ops.push({ type: 'put', sublevel: this.db.spaceEvict, key: state.k, value: evictValue(state) })
      ops.push({ type: 'put', sublevel: this.db.spaceState, key: sha1, value: state })
      if (old !== undefined) subtract(totals, old)
      add(totals, state)
    }
    let childMarks: Array<[string, number]> = []
    if (propagate.size > 0) {
      const origin = Math.min(...marked.map(([sha1, seq]) => this.watch.marks.get(sha1)?.origin ?? seq))
      const child = this.watch.markOps([...propagate], origin)
      ops.push(child.op)
      childMarks = child.marks
    }
    ops.push({ type: 'put', sublevel: this.db.spaceMeta, key: SPACE_TOTALS, value: totals })
    // records of marks settled earlier go with this batch (settling itself follows the batch)
    const dropped = this.emptyCoverOps(ops)
    await this.db.batch(ops)
    this.totals = totals
    this.watch.coversDeleted(dropped)
    // a mark renewed meanwhile is not settled: its blob is reclassified again
    for (const [sha1, seq] of marked) this.watch.settle(sha1, seq)
    this.watch.commitMarks(childMarks)
    return true
  }

  /** Adds the deletion of space-dirty records no mark depends on any more; the keys added. */
  private emptyCoverOps (ops: BatchOp[]): string[] {
    const keys = [...this.watch.emptyCovers]
    for (const key of keys) ops.push({ type: 'del', sublevel: this.db.spaceDirty, key })
    return keys
  }

  /** With nothing left to reclassify, deletes the records of marks already settled. */
  private async dropEmptyCovers (): Promise<void> {
    if (this.watch.emptyCovers.size === 0) return
    const ops: BatchOp[] = []
    const dropped = this.emptyCoverOps(ops)
    await this.db.batch(ops)
    this.watch.coversDeleted(dropped)
  }

  private async readLinks (sha1: string, size: number): Promise<string[]> {
    if (!mayHoldLinks(size)) return []
    // a blob stored from memory a moment ago (a fetched small blob): its first bytes came with the
    // store's added event, and most are not JSON, so no file is opened for them (bench/small)
    const known = this.recentHeads.get(sha1)
    if (known !== undefined && known.length >= Math.min(size, SNIFF_BYTES) && !looksLikeJson(known.subarray(0, SNIFF_BYTES))) return []
    try {
      // quiet: looking inside is not a use of the blob (store reads count as one)
      const head = await this.store.readBytes(sha1, { length: Math.min(size, SNIFF_BYTES), quiet: true })
      if (!looksLikeJson(head)) return []
      return extractLinks(await this.store.readBytes(sha1, { quiet: true }), sha1)
    } catch {
      // gone again already, or unreadable: verify deals with the file; it references nothing we know
      return []
    }
  }

  /** Moves recently used blobs later in the eviction order, in batches. */
  async flushAccess (): Promise<void> {
    if (this.access.size === 0) return
    await this.queue.run(async () => {
      const entries = this.access.take()
      // blobs stored a moment ago have no state yet: their use waits for the next flush
      const unclassified = new Map<string, number>()
      try {
        const all = [...entries]
        for (let i = 0; i < all.length; i += RECLASSIFY_BATCH) {
          const chunk = all.slice(i, i + RECLASSIFY_BATCH)
          const states = await this.db.spaceState.getMany(chunk.map(([s]) => s))
          const ops: BatchOp[] = []
          for (const [j, [sha1, at]] of chunk.entries()) {
            const st = states[j]
            if (st === undefined && this.watch.isChanging(sha1)) unclassified.set(sha1, at)
            if (st === undefined || at <= st.a) continue
            const next: BlobState = { ...st, a: at }
            if (st.k !== undefined) {
              // it has an eviction key, so its class is not 'p'
              next.k = evictKey(sha1, st, at) as string
              ops.push({ type: 'del', sublevel: this.db.spaceEvict, key: st.k })
              ops.push({ type: 'put', sublevel: this.db.spaceEvict, key: next.k, value: evictValue(next) })
            }
            ops.push({ type: 'put', sublevel: this.db.spaceState, key: sha1, value: next })
          }
          if (ops.length > 0) await this.db.batch(ops)
        }
        this.access.settle(true)
        this.access.giveBack(unclassified)
      } catch (err) {
        this.access.settle(false)
        throw err
      }
    })
  }

  /**
   * Deletes planned blobs in one batch. Inside the queue it re-reads their state: a blob whose
   * eviction key moved since planning (its hold or last use changed) is left alone. Inside the
   * store's write queue, synchronously before the batch, `keep` and the dirty marks get a last
   * veto, so a ref set or pin issued before that instant always wins.
   */
  async deleteCandidates (cands: DeleteCandidate[], keep: (sha1: string) => boolean): Promise<DeleteOutcome> {
    return this.queue.run(async () => {
      const states = await this.db.spaceState.getMany(cands.map((c) => c.sha1))
      const eligible = new Map<string, BlobState>()
      for (const [i, c] of cands.entries()) {
        const st = states[i]
        if (st !== undefined && st.k === c.key) eligible.set(c.sha1, st)
      }
      if (eligible.size === 0) return { deleted: [], errors: [] }
      // links of an unheld JSON blob go with it; a held one keeps them: its refs still reach the children
      const linkOps = new Map<string, BatchOp[]>()
      const links = await anyLinks(this.db)
      for (const [sha1, st] of eligible) {
        if (st.c !== 'u' || !links) continue
        const children = await childrenOf(this.db, sha1)
        if (children.length === 0) continue
        linkOps.set(sha1, children.flatMap((c): BatchOp[] => [
          { type: 'del', sublevel: this.db.spaceLinks, key: linkKey(sha1, c) },
          { type: 'del', sublevel: this.db.spaceLinkedBy, key: linkKey(c, sha1) }
        ]))
      }
      const totals = structuredClone(this.totals)
      const intentKey = intentsKey(++this.intentSeq)
      for (const sha1 of eligible.keys()) this.watch.deleting.add(sha1)
      let result: { deleted: BlobInfo[], errors: Array<{ sha1: string, error: string }> }
      try {
        result = await this.store.deleteBatch([...eligible.keys()], {
          keep: (sha1) => keep(sha1) || this.watch.isChanging(sha1),
          extraOps: (deleted) => {
            const ops: BatchOp[] = []
            for (const d of deleted) {
              const st = eligible.get(d.sha1) as BlobState
              ops.push({ type: 'del', sublevel: this.db.spaceState, key: d.sha1 })
              if (st.k !== undefined) ops.push({ type: 'del', sublevel: this.db.spaceEvict, key: st.k })
              ops.push(...(linkOps.get(d.sha1) ?? []))
              subtract(totals, st)
            }
            // the files go after this batch; a crash in between is finished at the next open
            ops.push({ type: 'put', sublevel: this.db.spaceMeta, key: intentKey, value: deleted.map((d) => d.sha1) })
            ops.push({ type: 'put', sublevel: this.db.spaceMeta, key: SPACE_TOTALS, value: totals })
            return ops
          }
        })
      } finally {
        for (const sha1 of eligible.keys()) this.watch.deleting.delete(sha1)
      }
      if (result.deleted.length > 0) this.totals = totals
      const failed = new Set(result.errors.map((e) => e.sha1))
      // a file that could not be removed stays recorded, so the next open tries again
      if (result.deleted.length > 0) {
        const left = result.deleted.filter((d) => failed.has(d.sha1)).map((d) => d.sha1)
        await this.db.spaceMeta.batch([left.length > 0 ? { type: 'put', key: intentKey, value: left } : { type: 'del', key: intentKey }])
      }
      return result
    })
  }

  /**
   * Compacts what a large run deleted where it hurts: the head of the eviction index, which every
   * plan reads from its start (LevelDB walks over deleted entries until they are compacted away),
   * and the intent records. Only that key range, so it costs what the run evicted; the blob and
   * state entries deleted all over their ranges are left to LevelDB's own background compaction
   * (a whole-database compaction took minutes on a 1M-blob store and stalled writers meanwhile).
   */
  async compactEvicted (lastKey: string): Promise<boolean> {
    const level = this.db.level as unknown as { compactRange?: (start: string, end: string) => Promise<void> }
    if (level.compactRange === undefined) return false
    const evict = this.db.spaceEvict.prefix
    await level.compactRange(evict, `${evict}${lastKey}`)
    const meta = this.db.spaceMeta.prefix
    await level.compactRange(`${meta}${INTENTS_KEYS.gt as string}`, `${meta}${INTENTS_KEYS.lt as string}`)
    return true
  }

  /** Finishes the deletions of a run that was killed between its index batch and its file removals. */
  async recoverIntents (): Promise<number> {
    const records = await this.db.spaceMeta.iterator(INTENTS_KEYS).all() as Array<[string, string[]]>
    // one key per blob: the layout before intents were recorded per batch
    const single = await this.db.spaceMeta.keys(LEGACY_INTENT_KEYS).all()
    const sha1s = [...records.flatMap(([, v]) => v), ...single.map(parseLegacyIntentKey)]
    if (sha1s.length === 0) return 0
    // the store keeps the file of a blob stored again since
    await this.store.removeOrphanFiles(sha1s)
    await this.db.spaceMeta.batch([...records.map(([k]) => k), ...single].map((key) => ({ type: 'del' as const, key })))
    return sha1s.length
  }

  /**
   * Recomputes the whole index in one ordered pass: blobs, edges, pins and links share the sha1
   * prefix, so one merge-join reads each once. Blobs held through JSON links are finished with
   * point reads (they are few). Used at first open, after a schema change, after a crash left
   * too many marks, and by the reconcile when counters drifted.
   */
  async rebuild (): Promise<ClassTotals> {
    return this.queue.run(async () => {
      const marked = [...this.watch.marks].filter(([, m]) => m.committed).map(([s, m]) => [s, m.seq] as [string, number])
      await this.db.spaceEvict.clear()
      const blobs = new Cursor(this.store.scanEntries())
      const edges = new Cursor(this.refs.scanHolders())
      const pins = new Cursor(this.refs.scanPins())
      const parents = new Cursor(scan(this.db.spaceLinkedBy))
      const oldStates = new Cursor(scan(this.db.spaceState))
      const totals = emptyTotals()
      const linked: Array<{ sha1: string, size: number, t: number, a: number, own: Hold }> = []
      let ops: BatchOp[] = []
      const flush = async (): Promise<void> => {
        if (ops.length === 0) return
        const batch = ops
        ops = []
        await this.db.batch(batch)
      }
      try {
        for (;;) {
          const b = await blobs.next()
          if (b === undefined) break
          const [sha1, entry] = b
          // states of blobs that are gone
          for (const [k] of await takeBelow(oldStates, sha1)) ops.push({ type: 'del', sublevel: this.db.spaceState, key: k })
          const old = (await oldStates.take(sha1))[0]?.[1]
          let own: Hold = (await pins.take(sha1)).length > 0 ? PROTECTED : UNHELD
          for (const [, h] of await edges.take(sha1)) own = combine(own, edgeHold(h, this.watch.minCopies.get(h.key)))
          const a = Math.max(old?.a ?? 0, entry.addedAt, this.access.get(sha1) ?? 0)
          if ((await parents.take(sha1)).length > 0 && own.c !== 'p') {
            linked.push({ sha1, size: entry.size, t: entry.addedAt, a, own })
            continue
          }
          this.put(ops, totals, sha1, stateFor(sha1, own, entry.size, entry.addedAt, a))
          if (ops.length >= REBUILD_BATCH_OPS) await flush()
        }
        for (const [k] of await takeBelow(oldStates, '\uffff')) ops.push({ type: 'del', sublevel: this.db.spaceState, key: k })
      } finally {
        await Promise.all([blobs.close(), edges.close(), pins.close(), parents.close(), oldStates.close()])
      }
      const holds = new HoldComputer({ db: this.db, refs: this.refs, minCopies: this.watch.minCopies })
      for (const l of linked) {
        this.put(ops, totals, l.sha1, stateFor(l.sha1, combine(l.own, await holds.holdOf(l.sha1)), l.size, l.t, l.a))
        if (ops.length >= REBUILD_BATCH_OPS) await flush()
      }
      ops.push({ type: 'put', sublevel: this.db.spaceMeta, key: SPACE_TOTALS, value: totals })
      ops.push({ type: 'put', sublevel: this.db.spaceMeta, key: SPACE_VERSION, value: INDEX_VERSION })
      const dropped = this.emptyCoverOps(ops)
      await flush()
      this.totals = totals
      this.watch.coversDeleted(dropped)
      for (const [sha1, seq] of marked) this.watch.settle(sha1, seq)
      await this.dropEmptyCovers()
      return totals
    })
  }

  private put (ops: BatchOp[], totals: ClassTotals, sha1: string, state: BlobState): void {
    ops.push({ type: 'put', sublevel: this.db.spaceState, key: sha1, value: state })
    if (state.k !== undefined) ops.push({ type: 'put', sublevel: this.db.spaceEvict, key: state.k, value: evictValue(state) })
    add(totals, state)
  }

  async state (sha1: string): Promise<BlobState | undefined> {
    return await this.db.spaceState.get(sha1)
  }

  /**
   * Rebuilds the index when the per-class counters no longer add up, to the states or to the blob
   * counters (a crash between a blob batch and its reclassification, a hand-edited directory);
   * not while marks are pending. Returns whether it rebuilt.
   */
  async rebuildIfDrifted (): Promise<boolean> {
    await this.drain()
    const t = this.totals
    const classified = t.protected.bytes + t.referenced.bytes + t.unreferenced.bytes
    const blobs = t.protected.blobs + t.referenced.blobs + t.unreferenced.blobs
    const usage = this.store.getUsage()
    const counted = await this.countTotals()
    const same = JSON.stringify(counted) === JSON.stringify(t)
    if (same && classified === usage.bytes && blobs === usage.blobs) return false
    if (this.watch.marks.size > 0) return false
    await this.rebuild()
    return true
  }

  /** Recomputes the bytes per class from the states (the reconcile's check of the counters). */
  async countTotals (): Promise<ClassTotals> {
    const totals = emptyTotals()
    for await (const st of this.db.spaceState.values()) add(totals, st)
    return totals
  }
}

function stateFor (sha1: string, hold: Hold, size: number, t: number, a: number): BlobState {
  const st: BlobState = { c: hold.c, s: size, t, a }
  if (hold.p !== undefined) st.p = hold.p
  if (hold.m !== undefined) st.m = hold.m
  const k = evictKey(sha1, hold, a)
  if (k !== undefined) st.k = k
  return st
}

function evictValue (st: BlobState): EvictValue {
  const v: EvictValue = { s: st.s, t: st.t }
  if (st.m !== undefined) v.m = st.m
  return v
}

function add (totals: ClassTotals, st: BlobState): void {
  const t = totals[CLASS_NAMES[st.c]]
  t.blobs++
  t.bytes += st.s
}

function subtract (totals: ClassTotals, st: BlobState): void {
  const t = totals[CLASS_NAMES[st.c]]
  t.blobs--
  t.bytes -= st.s
}

async function takeBelow<V> (cursor: Cursor<V>, key: string): Promise<Array<[string, V]>> {
  const out: Array<[string, V]> = []
  for (;;) {
    const e = await cursor.peek()
    if (e === undefined || e[0] >= key) return out
    out.push(e)
    await cursor.next()
  }
}
