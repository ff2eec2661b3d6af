import type { TroveDb, Sub } from '../db.js'

/** A dirty mark: this blob's hold may have changed; `seq` tells a newer mark from the one a pass read. */
export interface Mark {
  seq: number
  /** false while the write that made it has not committed: the change may not be readable yet. */
  committed: boolean
  /** For a mark made by propagation through links: the seq of the change it came from. */
  origin?: number
}

type Op = any // eslint-disable-line @typescript-eslint/no-explicit-any

const SHA1_LENGTH = 40

/**
 * Watches every LevelDB write through abstract-level's `prewrite` hook, which runs synchronously
 * when a batch is issued and may add operations to that same batch. For each write that can change
 * what holds a blob (an edge, a pin, a blob entry, a manifest) it adds a persistent dirty mark to
 * the batch, so the mark commits or fails with the change itself and survives a crash. The space
 * index reclassifies marked blobs afterwards; until then the blob counts as "changing" and is not
 * evicted. The ref store and the blob store know nothing of this.
 */
export class WriteWatch {
  readonly marks = new Map<string, Mark>()
  /** Ref key -> minCopies, for refs that ask for one (few; read when classifying). */
  readonly minCopies = new Map<string, number>()
  /** Blobs a GC batch is deleting: their own index deletions need no mark. */
  readonly deleting = new Set<string>()
  /** Called when committed marks are waiting. */
  onReady: () => void = () => {}
  /** When a ref, pin or blob write last went through (ms); a run yields to writers while this is recent. */
  lastWriteAt = 0
  private seq = Date.now() * 1000
  private readonly names = new Map<unknown, string>()
  private readonly db: TroveDb
  private readonly hook = (op: Op, batch: Op): void => { this.prewrite(op, batch) }
  private readonly onWrite = (ops: Op[]): void => { this.written(ops) }

  constructor (db: TroveDb) {
    this.db = db
    for (const name of ['edges', 'pins', 'blobs', 'manifests', 'refs'] as const) {
      const sub = (db as unknown as Record<string, Sub | undefined>)[name]
      if (sub !== undefined) this.names.set(sub, name)
    }
  }

  install (): void {
    this.db.level.hooks.prewrite.add(this.hook)
    this.db.level.on('write', this.onWrite)
  }

  uninstall (): void {
    this.db.level.hooks.prewrite.delete(this.hook)
    this.db.level.off('write', this.onWrite)
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
    if (this.marks.get(sha1)?.seq !== seq) return false
    this.marks.delete(sha1)
    return true
  }

  /** Marks a blob from inside the space index's own batch (link propagation). */
  markOp (sha1: string, origin?: number): { op: Op, seq: number } {
    const seq = this.nextSeq()
    this.marks.set(sha1, { seq, committed: false, origin })
    return { op: { type: 'put', sublevel: this.db.spaceDirty, key: sha1, value: seq }, seq }
  }

  commitMarks (marks: Array<[string, number]>): void {
    let any = false
    for (const [sha1, seq] of marks) {
      const m = this.marks.get(sha1)
      if (m?.seq === seq) {
        m.committed = true
        any = true
      }
    }
    if (any) this.onReady()
  }

  private prewrite (op: Op, batch: Op): void {
    if (op.space === true) return
    const target = this.resolve(op)
    if (target === undefined) return
    const { name, key } = target
    // a run's own blob deletions are not writers it should make way for
    if (!(name === 'blobs' && this.deleting.has(key))) this.lastWriteAt = Date.now()
    const marks: Array<[string, number]> = []
    const mark = (sha1: string): void => {
      if (sha1.length !== SHA1_LENGTH) return
      const seq = this.nextSeq()
      this.marks.set(sha1, { seq, committed: false })
      marks.push([sha1, seq])
      batch.add({ type: 'put', sublevel: this.db.spaceDirty, key: sha1, value: seq })
    }
    switch (name) {
      case 'edges':
        mark(key.slice(0, SHA1_LENGTH))
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
          const manifest = String(parseValue(op.value))
          if (manifest.length === SHA1_LENGTH) {
            batch.add({ type: 'put', sublevel: this.db.spaceLinks, key: `${key}\x00${manifest}`, value: 1 })
            batch.add({ type: 'put', sublevel: this.db.spaceLinkedBy, key: `${manifest}\x00${key}`, value: 1 })
            mark(manifest)
          }
        }
        mark(key)
        break
      case 'refs':
        this.refWrite(op, key, batch)
        break
    }
    if (marks.length > 0) op.spaceMarks = marks
  }

  /** Keeps the refs that ask for minCopies in their own small index, in the ref's own batch. */
  private refWrite (op: Op, key: string, batch: Op): void {
    const n = op.type === 'put' ? minCopiesOf(parseValue(op.value)) : undefined
    if (n !== undefined) {
      if (this.minCopies.get(key) !== n) batch.add({ type: 'put', sublevel: this.db.spaceMeta, key: `minCopies!${key}`, value: n })
      this.minCopies.set(key, n)
    } else if (this.minCopies.has(key)) {
      batch.add({ type: 'del', sublevel: this.db.spaceMeta, key: `minCopies!${key}` })
      this.minCopies.delete(key)
    }
  }

  private written (ops: Op[]): void {
    for (const op of ops) {
      if (op.spaceMarks !== undefined) this.commitMarks(op.spaceMarks as Array<[string, number]>)
    }
  }

  /** The sublevel name and relative key of an operation, in either form abstract-level passes it. */
  private resolve (op: Op): { name: string, key: string } | undefined {
    if (op.sublevel !== undefined) {
      const name = this.names.get(op.sublevel)
      return name === undefined ? undefined : { name, key: String(op.key) }
    }
    const k = typeof op.key === 'string' ? op.key : undefined
    if (k === undefined || k[0] !== '!') return undefined
    const end = k.indexOf('!', 1)
    if (end < 0) return undefined
    const name = k.slice(1, end)
    if (!['edges', 'pins', 'blobs', 'manifests', 'refs'].includes(name)) return undefined
    return { name, key: k.slice(end + 1) }
  }
}

function parseValue (v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}

export function minCopiesOf (stored: unknown): number | undefined {
  const n = (stored as { meta?: { minCopies?: unknown } } | undefined)?.meta?.minCopies
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined
}
