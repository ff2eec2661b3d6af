import type { BatchOp, ObservedOp, Root, Sublevels, TableName } from './schema.js'

/** What an observer may do to a batch while it is issued. */
export interface ObservedBatch {
  /** Adds an operation to the same batch: it commits or fails with the rest. Observers do not see it. */
  add: (op: BatchOp) => void
  /** Runs `fn` once the batch is written (never if it fails). */
  onWritten: (fn: () => void) => void
}

/**
 * Sees the writes to some tables as they are issued, and may add operations to the same batch
 * (so what it derives from a write commits, or fails, with the write itself).
 */
export interface WriteObserver {
  /** The tables whose writes it sees. */
  readonly tables: readonly TableName[]
  /**
   * Runs synchronously while a batch is issued, before any of it is written. A batch written with
   * `db.batch(ops, { whole: true })` comes in one call with every operation on `tables`; any other
   * write (a plain batch, or a sublevel's own put or del) comes one operation per call.
   */
  prewrite: (ops: ObservedOp[], batch: ObservedBatch) => void
}

export interface BatchOptions {
  /**
   * Observers see the batch in one call rather than one call per operation, so what they add for
   * it can be one record for the lot (space management's dirty marks for a burst of ref sets).
   */
  whole?: boolean
}

/** On an operation of a batch the observers have seen whole: the hook passes it by. */
const SEEN = Symbol('trove.observed')
/** On an operation: what to run once its batch is written. */
const AFTER = Symbol('trove.afterWrite')

/** An operation as abstract-level's prewrite hook and write event pass it. */
interface LevelOp {
  type: 'put' | 'del'
  key: unknown
  value?: unknown
  sublevel?: unknown
  holdsUnchanged?: boolean
  [SEEN]?: boolean
  [AFTER]?: Array<() => void>
}

interface LevelPrewriteBatch {
  add: (op: BatchOp) => unknown
}

/** abstract-level types a batch with one value type for all; BatchOp checks each table's own. */
type LevelBatch = (ops: BatchOp[], options?: object) => Promise<void>

/**
 * The write seam of the database: runs the observers on every write through abstract-level's
 * prewrite hook (synchronous when a batch is issued; what it adds joins that batch) and the write
 * event (after the batch is written). Both are installed only while someone observes.
 */
export class WriteObservers {
  private readonly observers = new Set<WriteObserver>()
  /** Tables some observer sees. */
  private watched = new Set<TableName>()
  private readonly bySublevel = new Map<unknown, TableName>()
  private readonly byName = new Map<string, TableName>()
  private readonly hook = (op: LevelOp, batch: LevelPrewriteBatch): void => { this.prewrite(op, batch) }
  private readonly onWrite = (ops: LevelOp[]): void => { this.written(ops) }
  private readonly write: LevelBatch

  constructor (private readonly level: Root, sublevels: Sublevels, names: { readonly [N in TableName]: string }) {
    this.write = level.batch.bind(level) as unknown as LevelBatch
    for (const table of Object.keys(names) as TableName[]) {
      this.bySublevel.set(sublevels[table], table)
      this.byName.set(names[table], table)
    }
  }

  observe (observer: WriteObserver): () => void {
    if (this.observers.size === 0) {
      this.level.hooks.prewrite.add(this.hook)
      this.level.on('write', this.onWrite)
    }
    this.observers.add(observer)
    this.watched = new Set([...this.observers].flatMap((o) => o.tables))
    return () => {
      if (!this.observers.delete(observer)) return
      this.watched = new Set([...this.observers].flatMap((o) => o.tables))
      if (this.observers.size > 0) return
      this.level.hooks.prewrite.delete(this.hook)
      this.level.off('write', this.onWrite)
    }
  }

  async batch (ops: BatchOp[], options: BatchOptions = {}): Promise<void> {
    if (options.whole !== true || this.observers.size === 0) return this.write(ops)
    const added: BatchOp[] = []
    const after: Array<() => void> = []
    const batch: ObservedBatch = { add: (op) => { added.push(op) }, onWritten: (fn) => { after.push(fn) } }
    const seen: ObservedOp[] = []
    for (const op of ops) {
      const table = this.bySublevel.get(op.sublevel)
      if (table !== undefined && this.watched.has(table)) seen.push(observed(table, op.type, op.key, (op as { value?: unknown }).value, op.holdsUnchanged))
    }
    this.run(seen, batch)
    // copied into every operation by abstract-level: the hook passes them by, the write event runs `after`
    await this.write(added.length > 0 ? [...ops, ...added] : ops, { [SEEN]: true, [AFTER]: after })
  }

  private run (ops: ObservedOp[], batch: ObservedBatch): void {
    if (ops.length === 0) return
    for (const observer of this.observers) {
      const mine = observer.tables.length === this.watched.size ? ops : ops.filter((op) => observer.tables.includes(op.table))
      if (mine.length > 0) observer.prewrite(mine, batch)
    }
  }

  private prewrite (op: LevelOp, levelBatch: LevelPrewriteBatch): void {
    if (op[SEEN] === true) return
    const seen = this.resolve(op)
    if (seen === undefined) return
    let after: Array<() => void> | undefined
    this.run([seen], {
      add: (added) => { levelBatch.add(added) },
      onWritten: (fn) => { (after ??= []).push(fn) }
    })
    // the write event gets a copy of this operation, made after the hook
    if (after !== undefined) op[AFTER] = after
  }

  private written (ops: LevelOp[]): void {
    let last: Array<() => void> | undefined
    for (const op of ops) {
      const after = op[AFTER]
      // a whole batch's operations share one list
      if (after === undefined || after === last) continue
      last = after
      for (const fn of after) fn()
    }
  }

  /** The table, key and decoded value of an operation, in either form abstract-level passes it. */
  private resolve (op: LevelOp): ObservedOp | undefined {
    if (op.sublevel != null) {
      const table = this.bySublevel.get(op.sublevel)
      return table === undefined || !this.watched.has(table) ? undefined : observed(table, op.type, String(op.key), op.value, op.holdsUnchanged)
    }
    // a sublevel's own put or del reaches the root prefixed (`!name!key`), its value encoded
    const k = typeof op.key === 'string' ? op.key : undefined
    if (k === undefined || k[0] !== '!') return undefined
    const end = k.indexOf('!', 1)
    if (end < 0) return undefined
    const table = this.byName.get(k.slice(1, end))
    if (table === undefined || !this.watched.has(table)) return undefined
    return observed(table, op.type, k.slice(end + 1), op.type === 'put' ? parseJson(op.value) : undefined, op.holdsUnchanged)
  }
}

function observed (table: TableName, type: 'put' | 'del', key: string, value: unknown, holdsUnchanged: boolean | undefined): ObservedOp {
  const op = (type === 'put' ? { table, type, key, value } : { table, type, key }) as ObservedOp
  if (holdsUnchanged === true) op.holdsUnchanged = true
  return op
}

function parseJson (v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}
