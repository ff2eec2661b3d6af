import type { BatchOp, ObservedBatch, ObservedOp, TableName, TroveDb, WriteObserver } from '../db.js'
import { dirtyGroupKey, linkKey, minCopiesKey, parseDirtyKey, parseEdgeKey } from '../db/keys.js'

/** A dirty mark: this blob's hold may have changed; `seq` tells a newer mark from the one a pass read. */
export interface Mark {
  seq: number
  /** false while the write that made it has not committed: the change may not be readable yet. */
  committed: boolean
  /** For a mark made by propagation through links: the seq of the change it came from. */
  origin?: number
  /** The space-dirty record that persists this mark once committed (`g<seq>`, or a legacy sha1 key). */
  cover: string
  /**
   * Until this mark commits: the record of an earlier committed mark of the same blob, which
   * must outlive it (if this write fails, or the process dies first, that record is what makes the
   * next open reclassify the blob).
   */
  prevCover?: string
}

const SHA1_LENGTH = 40

/** The tables whose writes can change what holds a blob (refs: for their minCopies, see refWrite). */
const WATCHED: readonly TableName[] = ['edges', 'pins', 'blobs', 'manifests', 'refs']

/**
 * Observes the writes to the tables that say what holds a blob (db.observe). For each write that
 * can change a blob's hold (an edge, a pin, a blob entry, a manifest) it adds a persistent dirty
 * mark to the same batch, so the mark commits or fails with the change itself and survives a
 * crash. The space index reclassifies marked blobs afterwards; until then the blob counts as
 * "changing" and is not evicted. Writes flagged `holdsUnchanged` are passed by. The ref store and
 * the blob store know nothing of this.
 *
 * Marks are persisted in groups: one space-dirty record per observed call lists every blob it
 * marked. The ref store writes its batches whole (db.batch with `whole`), so a burst of ref sets
 * costs one record, not a put and a later delete per changed edge (bench/refs.ts: about a fifth
 * of a ref set's cost); other writes come one operation per call, a record each. A record is
 * deleted once no mark depends on it: each of its blobs was reclassified or marked again by a
 * later committed record. Record keys are never reused, so a late delete cannot erase a newer mark.
 */
export class WriteWatch implements WriteObserver {
  readonly tables = WATCHED
  readonly marks = new Map<string, Mark>()
  /** Ref key -> minCopies, for refs that ask for one (few; read when classifying). */
  readonly minCopies = new Map<string, number>()
  /** Blobs a GC batch is deleting: their own index deletions need no mark. */
  readonly deleting = new Set<string>()
  /** Called when committed marks are waiting. */
  onReady: () => void = () => {}
  /** When a ref, pin or blob write last went through (ms); a run yields to writers while this is recent. */
  lastWriteAt = 0
  /** Space-dirty records no mark depends on any more: deleted by the space index's next batch. */
  readonly emptyCovers = new Set<string>()
  /** Marks depending on each space-dirty record. */
  private readonly covers = new Map<string, number>()
  private seq = Date.now() * 1000
  private readonly db: TroveDb
  private unobserve: (() => void) | undefined

  constructor (db: TroveDb) {
    this.db = db
  }

  install (): void {
    this.unobserve ??= this.db.observe(this)
  }

  uninstall (): void {
    this.unobserve?.()
    this.unobserve = undefined
  }

  /** Reloads a space-dirty record at open: its blobs are marked (committed) until reclassified. */
  load (key: string, value: unknown): void {
    const k = parseDirtyKey(key)
    const seq = k.group ? k.seq : Number(value)
    const sha1s = k.group ? (Array.isArray(value) ? value.map(String) : []) : [k.sha1]
    if (Number.isFinite(seq) && seq > this.seq) this.seq = seq
    for (const sha1 of sha1s) {
      if (this.marks.has(sha1) || sha1.length !== SHA1_LENGTH) continue
      this.marks.set(sha1, { seq: Number.isFinite(seq) ? seq : 0, committed: true, cover: key })
      this.count(key, 1)
    }
    if (!this.covers.has(key)) this.emptyCovers.add(key)
  }

  /** The records deleted by a space index batch that committed. */
  coversDeleted (keys: Iterable<string>): void {
    for (const k of keys) this.emptyCovers.delete(k)
  }

  nextSeq (): number {
    return ++this.seq
  }

  /** True when a ref, pin or blob was written in the last `ms`. */
  writersActive (ms: number, now = Date.now()): boolean {
    return now - this.lastWriteAt < ms
  }

  /** True while a change to what holds the blob has not been reclassified: not safe to evict. */
  isChanging (sha1: string): boolean {
    return this.marks.has(sha1)
  }

  /** The newest mark so far: a drain processes marks up to here, not the ones writers keep adding. */
  get lastSeq (): number {
    return this.seq
  }

  /** Committed marks (up to seq `upTo`), oldest first, up to `limit`. */
  ready (limit: number, upTo = Infinity): Array<[string, number]> {
    const out: Array<[string, number]> = []
    for (const [sha1, m] of this.marks) {
      if (!m.committed || (m.origin ?? m.seq) > upTo) continue
      out.push([sha1, m.seq])
      if (out.length === limit) break
    }
    return out
  }

  get readyCount (): number {
    let n = 0
    for (const m of this.marks.values()) if (m.committed) n++
    return n
  }

  /** Drops a mark once its blob was reclassified, unless a newer mark replaced it meanwhile. */
  settle (sha1: string, seq: number): boolean {
    const m = this.marks.get(sha1)
    if (m?.seq !== seq || !m.committed) return false
    this.marks.delete(sha1)
    this.count(m.cover, -1)
    return true
  }

  /** Once the batch holding `marks` is written: they count, and the records they replace may go. */
  commitMarks (marks: Array<[string, number]>): void {
    let any = false
    for (const [sha1, seq] of marks) {
      const cover = dirtyGroupKey(seq)
      const m = this.marks.get(sha1)
      if (m?.seq === seq) {
        m.committed = true
        this.count(cover, 1)
        if (m.prevCover !== undefined) this.count(m.prevCover, -1)
        m.prevCover = undefined
        any = true
      } else if (m !== undefined && !m.committed && m.prevCover === undefined) {
        // a newer mark of this blob is still in flight: this record now stands for it
        m.prevCover = cover
        this.count(cover, 1)
      }
    }
    // a record's marks share its seq; one no mark came to depend on can go at once
    const record = marks.length > 0 ? dirtyGroupKey(marks[0][1]) : undefined
    if (record !== undefined && !this.covers.has(record)) this.emptyCovers.add(record)
    if (any) this.onReady()
  }

  /**
   * One record for `sha1s`, to add to a batch, and their marks, to commit once it is written (the
   * space index marks the blobs its own batch propagates to this way).
   */
  markOps (sha1s: Iterable<string>, origin?: number): { op: BatchOp, marks: Array<[string, number]> } {
    const seq = this.nextSeq()
    const cover = dirtyGroupKey(seq)
    const marks: Array<[string, number]> = []
    const listed: string[] = []
    for (const sha1 of sha1s) {
      if (sha1.length !== SHA1_LENGTH) continue
      const old = this.marks.get(sha1)
      if (old?.seq === seq) continue
      const prevCover = old === undefined ? undefined : old.committed ? old.cover : old.prevCover
      this.marks.set(sha1, { seq, committed: false, origin, cover, prevCover })
      marks.push([sha1, seq])
      listed.push(sha1)
    }
    return { op: { type: 'put', sublevel: this.db.spaceDirty, key: cover, value: listed }, marks }
  }

  private count (cover: string, delta: number): void {
    const n = (this.covers.get(cover) ?? 0) + delta
    if (n > 0) {
      this.covers.set(cover, n)
      return
    }
    this.covers.delete(cover)
    this.emptyCovers.add(cover)
  }

  /**
   * Marks the blobs whose hold the operations may change, in one record added to their batch
   * (committed with it), and keeps the minCopies index in step with the refs.
   */
  prewrite (ops: ObservedOp[], batch: ObservedBatch): void {
    const marked: string[] = []
    const mark = (sha1: string): void => {
      if (sha1.length === SHA1_LENGTH) marked.push(sha1)
    }
    for (const op of ops) {
      if (op.holdsUnchanged === true) continue
      const key = op.key
      // a run's own blob deletions are not writers it should make way for
      if (!(op.table === 'blobs' && this.deleting.has(key))) this.lastWriteAt = Date.now()
      switch (op.table) {
        case 'edges':
          mark(parseEdgeKey(key).sha1)
          break
        case 'pins':
          mark(key)
          break
        case 'blobs':
          if (op.type === 'del' && this.deleting.has(key)) break
          mark(key)
          break
        case 'manifests':
          if (op.type === 'put') {
            // a large blob holds its chunk manifest: link blob -> manifest like a JSON reference
            const manifest = String(op.value)
            if (manifest.length === SHA1_LENGTH) {
              batch.add({ type: 'put', sublevel: this.db.spaceLinks, key: linkKey(key, manifest), value: 1 })
              batch.add({ type: 'put', sublevel: this.db.spaceLinkedBy, key: linkKey(manifest, key), value: 1 })
              mark(manifest)
            }
          }
          mark(key)
          break
        case 'refs':
          this.refWrite(key, op.type === 'put' ? op.value : undefined, batch)
          break
      }
    }
    if (marked.length === 0) return
    const group = this.markOps(marked)
    batch.add(group.op)
    batch.onWritten(() => { this.commitMarks(group.marks) })
  }

  /** Keeps the refs that ask for minCopies in their own small index, in the ref's own batch. */
  private refWrite (key: string, stored: unknown, batch: ObservedBatch): void {
    const n = minCopiesOf(stored)
    if (n !== undefined) {
      if (this.minCopies.get(key) !== n) batch.add({ type: 'put', sublevel: this.db.spaceMeta, key: minCopiesKey(key), value: n })
      this.minCopies.set(key, n)
    } else if (this.minCopies.has(key)) {
      batch.add({ type: 'del', sublevel: this.db.spaceMeta, key: minCopiesKey(key) })
      this.minCopies.delete(key)
    }
  }
}

export function minCopiesOf (stored: unknown): number | undefined {
  const n = (stored as { meta?: { minCopies?: unknown } } | undefined)?.meta?.minCopies
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined
}
