import type { BatchOp, Sublevel, TableName, Tables, TroveDb } from '../db.js'

/**
 * Most keys one getMany reads: bounds the memory of one call and the wait of the first caller
 * in a burst, while a burst of concurrent API requests still shares one trip to the thread pool.
 */
export const MAX_READ_BATCH = 256
/** Most operations in one coalesced write batch (a set is ~4-8 operations). */
export const MAX_WRITE_BATCH_OPS = 2048

interface PendingRead<V> {
  key: string
  resolve: (value: V | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Point reads of one sublevel issued in the same turn of the event loop go to LevelDB as one
 * getMany: one native call and one thread-pool hop for the lot instead of one each, which is
 * where a single get spends most of its time. A read still sees every write that finished
 * before it was issued, because nothing is read before the turn in which it was asked for.
 */
export class BatchedReader<N extends TableName> {
  private pending: Array<PendingRead<Tables[N]>> = []

  constructor (private readonly sub: Sublevel<N>) {}

  async get (key: string): Promise<Tables[N] | undefined> {
    return new Promise((resolve, reject) => {
      // nextTick runs after the promise jobs of this turn, so callers resuming from the same
      // completed batch all join the next one
      if (this.pending.length === 0) process.nextTick(() => { this.flush() })
      this.pending.push({ key, resolve, reject })
    })
  }

  private flush (): void {
    const all = this.pending
    this.pending = []
    for (let i = 0; i < all.length; i += MAX_READ_BATCH) {
      const group = all.slice(i, i + MAX_READ_BATCH)
      if (group.length === 1) {
        this.sub.get(group[0].key).then(group[0].resolve, group[0].reject)
        continue
      }
      this.sub.getMany(group.map((r) => r.key)).then(
        (values) => { for (const [j, r] of group.entries()) r.resolve(values[j]) },
        (err: unknown) => { for (const r of group) r.reject(err) }
      )
    }
  }
}

interface PendingWrite {
  ops: BatchOp[]
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Atomic batches issued in the same turn of the event loop are written as one LevelDB batch.
 * Each caller's operations stay together in one atomic write, so what one batch guaranteed
 * (a ref, its history entry and its edges land together or not at all) still holds; what
 * changes is that LevelDB does the per-write work (log record, locking, thread-pool hop) once
 * per burst rather than once per caller. If the combined write fails, each caller's batch is
 * retried alone so one caller's bad operation cannot fail the others.
 */
export class BatchedWriter {
  private pending: PendingWrite[] = []
  private pendingOps = 0
  private scheduled = false

  constructor (private readonly db: Pick<TroveDb, 'batch'>) {}

  /** Observers see each combined batch whole (space management: one record of dirty marks per batch). */
  private async batch (ops: BatchOp[]): Promise<void> {
    await this.db.batch(ops, { whole: true })
  }

  async write (ops: BatchOp[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pendingOps > 0 && this.pendingOps + ops.length > MAX_WRITE_BATCH_OPS) this.flush()
      this.pending.push({ ops, resolve, reject })
      this.pendingOps += ops.length
      if (!this.scheduled) {
        this.scheduled = true
        // after the promise jobs of this turn, like BatchedReader
        process.nextTick(() => {
          this.scheduled = false
          this.flush()
        })
      }
    })
  }

  private flush (): void {
    const group = this.pending
    this.pending = []
    this.pendingOps = 0
    if (group.length === 0) return
    if (group.length === 1) {
      this.batch(group[0].ops).then(group[0].resolve, group[0].reject)
      return
    }
    this.batch(group.flatMap((w) => w.ops)).then(
      () => { for (const w of group) w.resolve() },
      () => {
        for (const w of group) this.batch(w.ops).then(w.resolve, w.reject)
      }
    )
  }
}
