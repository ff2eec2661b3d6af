import fs from 'node:fs/promises'
import { StorageFailedError, StorageFullError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Root } from './schema.js'

/** First wait before a failed database is probed again; doubles per failed probe up to the max. */
const PROBE_FIRST_MS = 500
const PROBE_MAX_MS = 10_000
/**
 * Free bytes the database's filesystem must have before it is reopened: reopening replays the log
 * into a table file, and a reopen into a full disk would only fail again.
 */
const REOPEN_MIN_FREE_BYTES = 1024 * 1024

/** What the guard does with the database while it recovers. */
export interface Reopenable {
  level: Root
  /** Tables to reopen after the root: closing the root closes them. */
  sublevels: Array<{ open: () => Promise<void> }>
  path: string
}

type Write = (...args: unknown[]) => Promise<unknown>

/**
 * The write seam of the database. LevelDB does not stop after a write that failed in its log
 * (ENOSPC, EIO): the record is torn, the log writer's block offsets no longer match the file, and
 * writes it acknowledges later can be dropped when the log is replayed at the next start (issue 13
 * item 1: refs set after the disk was freed were gone after a clean restart). So after the first
 * failed write every write is refused, with StorageFullError or StorageFailedError, until the
 * database has been closed and reopened (the replay keeps everything acknowledged before the tear
 * and starts a new log); a probe tries that with back-off once the filesystem has room again.
 * A write that was in flight when another one failed is refused as well, since it may have gone to
 * the log after the torn record.
 */
export class WriteGuard {
  private failure: Error | undefined
  /** Counts failures, so a write knows whether one happened while it was in flight. */
  private epoch = 0
  private inFlight = 0
  private idle: Array<() => void> = []
  private probeTimer: NodeJS.Timeout | undefined
  private probeDelay = PROBE_FIRST_MS
  private recovering: Promise<void> | undefined
  private closed = false

  constructor (private readonly components: { db: Reopenable, log: Logger }) {
    const level = components.db.level as unknown as Record<'put' | 'del' | 'batch' | 'clear', Write>
    for (const method of ['put', 'del', 'batch', 'clear'] as const) {
      const original = level[method].bind(level)
      // batch() without operations is abstract-level's chained batch: returned as it is (Trove uses none)
      level[method] = (...args: unknown[]) => method === 'batch' && args.length === 0 ? original() : this.write(original, args)
    }
  }

  /** Whether writes are refused (the error they get), for status reports. */
  get failed (): Error | undefined {
    return this.failure
  }

  private async write (original: Write, args: unknown[]): Promise<unknown> {
    if (this.failure !== undefined) throw this.refusal()
    const epoch = this.epoch
    this.inFlight++
    try {
      const result = await original(...args)
      if (this.epoch !== epoch) throw this.refusal()
      return result
    } catch (err) {
      if (!isStorageFailure(err)) throw err
      if (this.epoch === epoch) this.fail(err as Error)
      throw this.refusal(err)
    } finally {
      if (--this.inFlight === 0) for (const fn of this.idle.splice(0)) fn()
    }
  }

  private fail (err: Error): void {
    this.epoch++
    this.failure = err
    this.components.log.error(`the database failed a write; writes are refused until it is reopened: ${err.message}`)
    this.schedule()
  }

  private refusal (cause: unknown = this.failure): Error {
    const message = cause instanceof Error ? cause.message : String(cause)
    if (/no space left|ENOSPC/i.test(message)) {
      return new StorageFullError(`the database cannot write: the disk is full (${message}); writes are refused until space is freed`, { cause })
    }
    return new StorageFailedError(`the database cannot write (${message}); writes are refused until it has been reopened`, { cause })
  }

  private schedule (): void {
    if (this.closed || this.probeTimer !== undefined) return
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined
      this.recovering = this.probe().finally(() => { this.recovering = undefined })
    }, this.probeDelay)
    this.probeTimer.unref()
  }

  private async probe (): Promise<void> {
    try {
      if (await this.freeBytes() < REOPEN_MIN_FREE_BYTES) throw new Error('the filesystem is still full')
      await this.reopen()
      this.failure = undefined
      this.probeDelay = PROBE_FIRST_MS
      this.components.log.warn('the database was reopened after a failed write; writes are accepted again')
    } catch (err) {
      this.probeDelay = Math.min(this.probeDelay * 2, PROBE_MAX_MS)
      this.components.log.debug(`the database is not writable yet: ${(err as Error).message}`)
      this.schedule()
    }
  }

  private async freeBytes (): Promise<number> {
    const s = await fs.statfs(this.components.db.path)
    return s.bavail * s.bsize
  }

  /** Closes and reopens the database once no write is in flight: LevelDB replays its log then. */
  private async reopen (): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => { this.idle.push(resolve) })
    if (this.closed) throw new Error('the database is closing')
    const { level, sublevels } = this.components.db
    await level.close()
    await level.open()
    for (const sub of sublevels) await sub.open()
  }

  /** Stops probing; waits for a reopen under way, so that the caller closes an open database. */
  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.probeTimer)
    this.probeTimer = undefined
    await this.recovering
  }
}

/** A write error that means the database's files could not be written (not a bad key or a closed db). */
function isStorageFailure (err: unknown): boolean {
  const e = err as { code?: string, message?: string, cause?: { code?: string } } | undefined
  if (e?.code === 'LEVEL_IO_ERROR' || e?.cause?.code === 'LEVEL_IO_ERROR') return true
  return typeof e?.message === 'string' && /^(IO error|Corruption):/.test(e.message)
}
