import type { DataDirLayout } from '../datadir.js'
import type { TroveDb } from '../db.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import type { RefStore } from '../refs/ref-store.js'
import { SerialQueue } from '../serial.js'
import type { BlobStore } from '../store/blob-store.js'
import { formatSize } from '../units.js'
import { SpaceAccounting, type OverLimit, type Target, type Usage } from './accounting.js'
import { AccessTracker } from './access-tracker.js'
import { Compactor } from './compaction.js'
import {
  ACCESS_FLUSH_INTERVAL_MS, BACKOFF_MAX_MS, BACKOFF_MIN_MS, BACKOFF_USEFUL_FRACTION, COMPACT_AFTER_BLOBS, DISK_REFRESH_MS, RECONCILE_INTERVAL_MS,
  TRIGGER_DEBOUNCE_MS
} from './constants.js'
import { sweepExpired } from './expiry-sweep.js'
import { GcRun, type GcRunComponents } from './gc-run.js'
import type { SpaceLimits, SpaceLimitsInput } from './limits.js'
import { Planner, emptySkips, type PlanEntry } from './planner.js'
import { NO_REPLICAS, type ReplicaSource } from './replicas.js'
import type { GcReport, GcTrigger, RunSummary, SpaceExplanation, SpaceStatus } from './report.js'
import { RunLog } from './run-log.js'
import { SpaceIndex } from './space-index.js'
import { explain, spaceStatus, type StatusParts } from './status.js'
import { DirLookup, type DirLookupComponents, type DirPlace } from './dir-lookup.js'
import { WriteWatch } from './watch.js'

export interface SpaceComponents {
  db: TroveDb
  store: BlobStore
  refs: RefStore
  layout: DataDirLayout
  /** Where background failures go (a run, an access flush, a compaction); default: stderr at warn. */
  logger?: ComponentLogger
}

export interface SpaceInit {
  /** The data directory's config (its limit fields are read). */
  config?: Record<string, unknown>
  /** Limits that override the config (createTrove options, `trove start` flags). */
  limits?: SpaceLimitsInput
  /** Periodic runs and reconcile (a running node); write-triggered runs happen regardless. */
  background?: boolean
  replicas?: ReplicaSource
  /** The line for the user when the limit is exceeded and nothing evictable is left (`trove start` prints it). */
  log?: (line: string) => void
}

export interface GcOptions {
  dryRun?: boolean
  trigger?: GcTrigger
  /** Evict (at least) this many bytes in eviction order, whatever the watermarks say. */
  freeBytes?: number
}

type Metrics = SpaceStatus['metrics'] & { compactions: number, lastCompactionMs: number, yieldedMs: number }

/** After a grace period ends, the rerun waits this much longer, so the blob is out of it by any clock reading. */
const GRACE_RERUN_MARGIN_MS = 50

/**
 * Keeps the node inside the space it is given: SpaceAccounting says how far it is from each limit,
 * GcRun evicts. Above the high watermark a background run evicts down to the low watermark; a
 * write or download that would pass the hard limit first evicts synchronously and fails with
 * StorageFullError only when nothing evictable is left. One run at a time, debounced, backing
 * off while runs free little.
 */
export class SpaceManager {
  private readonly store: BlobStore
  private readonly log: Logger
  private readonly notice: (line: string) => void
  private readonly watch: WriteWatch
  private readonly access = new AccessTracker()
  private readonly index: SpaceIndex
  private readonly accounting: SpaceAccounting
  private readonly compactor: Compactor
  /** What runs, `status()` and `explain()` read. */
  private readonly parts: GcRunComponents & StatusParts & { dirs: DirLookupComponents }
  private replicaSource: ReplicaSource
  private readonly runLog: RunLog
  private yieldedMs = 0
  private readonly runs = new SerialQueue()
  private running = 0
  private debounceTimer: NodeJS.Timeout | undefined
  /** The run due when the grace period a run waited for ends. */
  private graceTimer: NodeJS.Timeout | undefined
  private rerun = false
  private backoffMs = 0
  private readonly timers: NodeJS.Timeout[] = []
  private readonly unsubscribe: Array<() => void> = []
  private readonly abort = new AbortController()
  private closed = false

  constructor (components: SpaceComponents, init: SpaceInit = {}) {
    const { db, store, refs, logger } = components
    this.store = store
    this.log = (logger ?? defaultLogger()).forComponent('space')
    this.notice = init.log ?? (() => {})
    this.accounting = new SpaceAccounting({
      store,
      layout: components.layout,
      room: {
        exclusive: async (fn) => this.runs.run(fn),
        makeRoom: async (need, bytes) => (await this.run('hard-limit', { mode: 'bytes', bytes: need, why: `a write of ${formatSize(bytes)} would pass the hard limit` })).blocked,
        changed: () => { this.maybeTrigger() },
        wrote: (sha1) => { this.access.wrote(sha1) }
      }
    }, { config: init.config, limits: init.limits })
    this.replicaSource = init.replicas ?? NO_REPLICAS
    const replicas = (): ReplicaSource => this.replicaSource
    const { access, accounting } = this
    const watch = this.watch = new WriteWatch(db)
    const index = this.index = new SpaceIndex({ db, store, refs, watch, access, logger })
    const planner = new Planner({ db, leases: store, watch, access, replicas })
    this.runLog = new RunLog({ db })
    this.compactor = new Compactor({ index, watch, log: this.log }, { busy: () => this.running > 0 })
    this.parts = { db, store, leases: store, refs, index, planner, watch, access, accounting, replicas, dirs: { db, store } }
    if (init.background === true) this.startBackground()
  }

  async open (): Promise<void> {
    await this.index.open()
    await this.runLog.load()
    await this.accounting.refreshDisk()
    this.unsubscribe.push(this.store.guardWrites(this.accounting.guard()))
    this.unsubscribe.push(this.store.onRead((sha1) => { this.access.touch(sha1) }))
    this.unsubscribe.push(this.store.onAdded(() => { this.maybeTrigger() }))
    this.access.onFull = () => { void this.flushAccess().catch((err: unknown) => { this.log.warn('access flush failed', err) }) }
    this.every(ACCESS_FLUSH_INTERVAL_MS, 'access flush', async () => { await this.flushAccess() })
    this.every(DISK_REFRESH_MS, 'disk refresh', async () => { await this.accounting.refreshDisk() })
    this.maybeTrigger()
  }

  /** Periodic expiry + eviction and the reconcile of the counters, for a running node. */
  startBackground (): void {
    const { gcIntervalMs } = this.accounting.limits
    if (gcIntervalMs > 0) this.every(gcIntervalMs, 'periodic run', async () => { await this.gc({ trigger: 'periodic' }) })
    this.every(RECONCILE_INTERVAL_MS, 'reconcile', async () => { await this.reconcile() })
  }

  /** Changes limits while running (`trove start --max-size` after the node was created). */
  configure (limits: SpaceLimitsInput): void {
    this.accounting.configure(limits)
  }

  /** Where known remote copies come from (the network sets this when it starts). */
  setReplicaSource (source: ReplicaSource | undefined): void {
    this.replicaSource = source ?? NO_REPLICAS
  }

  /**
   * Calls `listener` with the report of every run that ends from now on (not dry runs), so a
   * command can tell its user what was evicted while it ran. Returns the function that stops it.
   */
  onRun (listener: (report: GcReport) => void): () => void {
    return this.runLog.onRun(listener)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    if (this.debounceTimer !== undefined) clearTimeout(this.debounceTimer)
    clearTimeout(this.graceTimer)
    await this.compactor.close()
    for (const u of this.unsubscribe) u()
    await this.runs.run(async () => {})
    await this.flushAccess().catch((err: unknown) => { this.log.warn('access flush at close failed', err) })
    await this.index.close()
  }

  get limits (): SpaceLimits {
    return this.accounting.limits
  }

  get metrics (): Metrics {
    return { ...this.runLog.stats, ...this.accounting.stats, ...this.compactor.stats, yieldedMs: this.yieldedMs }
  }

  get lastRuns (): RunSummary[] {
    return this.runLog.lastRuns
  }

  get isRunning (): boolean {
    return this.running > 0
  }

  get overLimitState (): OverLimit | undefined {
    return this.accounting.overLimit
  }

  usage (): Usage {
    return this.accounting.usage()
  }

  /** True above the high watermark or below the minimum free space: time for a background run. */
  aboveHighWatermark (): boolean {
    return this.accounting.aboveHighWatermark()
  }

  /** Connected peers known to hold the blob. */
  replicas (sha1: string): number {
    return this.replicaSource.replicas(sha1)
  }

  /**
   * Reserves space for a download (or any write the caller accounts for itself), evicting first
   * when that would pass the hard limit. Resolves to the release function; throws StorageFullError
   * when not even evicting everything evictable makes room.
   */
  async reserve (bytes: number, options: { pinned?: boolean } = {}): Promise<() => void> {
    return this.accounting.reserve(bytes, options)
  }

  private maybeTrigger (): void {
    if (this.closed) return
    if (this.accounting.diskStale()) void this.accounting.refreshDisk().catch((err: unknown) => { this.log.warn('disk refresh failed', err) })
    if (this.accounting.aboveHighWatermark()) this.scheduleRun('watermark')
  }

  /** One run at a time, debounced; while runs free little, the next waits longer. */
  private scheduleRun (trigger: GcTrigger): void {
    if (this.closed) return
    if (this.debounceTimer !== undefined || this.running > 0) {
      this.rerun = true
      return
    }
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined
      void this.gc({ trigger }).catch((err: unknown) => { this.log.warn(`${trigger} run failed`, err) }).finally(() => {
        if (this.rerun) {
          this.rerun = false
          if (this.accounting.aboveHighWatermark()) this.scheduleRun(trigger)
        }
      })
    }, TRIGGER_DEBOUNCE_MS + this.backoffMs)
    this.debounceTimer.unref()
  }

  async gc (options: GcOptions = {}): Promise<GcReport> {
    const target: Target | undefined = options.freeBytes !== undefined ? { mode: 'bytes', bytes: options.freeBytes, why: `asked to free ${formatSize(options.freeBytes)}` } : undefined
    // a dry run changes nothing: it need not wait for a run in progress, and leaves no trace
    if (options.dryRun === true) return (await this.gcRun('manual', target, true).run()).report
    return this.runs.run(async () => this.run(options.trigger ?? 'manual', target))
  }

  private gcRun (trigger: GcTrigger, target: Target | undefined, dryRun = false): GcRun {
    const onYield = (ms: number): void => { this.yieldedMs += ms }
    return new GcRun(this.parts, { dryRun, trigger, ...(target !== undefined ? { target } : {}), gracePeriodMs: this.limits.gracePeriodMs, signal: this.abort.signal, onYield })
  }

  private async run (trigger: GcTrigger, target?: Target): Promise<GcReport> {
    this.running++
    try {
      const { report, lastKey } = await this.gcRun(trigger, target).run()
      if (report.evicted.blobs >= COMPACT_AFTER_BLOBS && lastKey !== undefined) {
        this.compactor.schedule(lastKey)
        report.compacted = true
      }
      this.afterRun(report)
      await this.runLog.record(report)
      return report
    } finally {
      this.running--
    }
  }

  /** The back-off for the next run, and the over-limit state (told to the user). */
  private afterRun (report: GcReport): void {
    const deferred = report.satisfied ? undefined : report.skipped.deferred
    if (deferred !== undefined) {
      // not a run that freed little: one that waits, and is due again when the grace ends
      this.backoffMs = 0
      this.runAfterGrace(deferred.until)
    } else if (report.target.mode === 'bytes' && report.target.bytes > 0) {
      const useful = report.evicted.bytes >= report.target.bytes * BACKOFF_USEFUL_FRACTION
      this.backoffMs = useful ? 0 : Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.backoffMs * 2))
    }
    const over = this.accounting.afterRun(report)
    if (over !== undefined) this.notice(`space: limit exceeded by ${formatSize(over)} and nothing evictable is left; ${report.blocked ?? ''}`)
  }

  /** Checks the limits again once the grace period a run stopped at has ended. */
  private runAfterGrace (until: number): void {
    if (this.closed) return
    clearTimeout(this.graceTimer)
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined
      this.maybeTrigger()
    }, Math.max(0, until - Date.now()) + GRACE_RERUN_MARGIN_MS)
    this.graceTimer.unref()
  }

  /** Resolves once a compaction scheduled by a large run is done (none pending: at once). */
  async compacted (): Promise<void> {
    await this.compactor.done()
  }

  /**
   * Corrects drift: re-measures the disk, and rebuilds the index when the per-class counters no
   * longer add up to the blob counters (a crash between a blob batch and its reclassification,
   * a hand-edited directory). Returns whether a rebuild was needed.
   */
  async reconcile (): Promise<boolean> {
    await this.accounting.refreshDisk()
    // ttl refs whose access time was never flushed (a killed process) are found by a full scan here
    await sweepExpired(this.parts, Date.now(), { full: true })
    return this.index.rebuildIfDrifted()
  }

  /** The space part of `trove status`. */
  async status (): Promise<SpaceStatus> {
    return spaceStatus(this.parts, { lastRuns: this.lastRuns, running: this.isRunning, metrics: this.metrics, overLimit: this.accounting.overLimit })
  }

  /** The space part of `trove why`: why the blob stays, or why it would go. */
  /** The outermost stored directory `sha1` is inside, and the names down to it (undefined when none). */
  async placeInDir (sha1: string): Promise<DirPlace | undefined> {
    await this.index.drain()
    return new DirLookup(this.parts.dirs).placeOf(sha1)
  }

  async explain (sha1: string): Promise<SpaceExplanation> {
    return explain(this.parts, sha1)
  }

  /** Reclassifies every blob marked so far: the index then reflects every ref, pin and blob written. */
  async drain (): Promise<void> {
    await this.index.drain()
  }

  /** Moves blobs used since the last flush to their place in the eviction order (also done periodically). */
  async flushAccess (): Promise<void> {
    await this.index.flushAccess()
  }

  /** Records a use of a blob at `at` (a read of the store records one now). */
  touch (sha1: string, at?: number): void {
    this.access.touch(sha1, at)
  }

  /** A use recorded in memory and not yet flushed to the eviction order, if any. */
  pendingUse (sha1: string): number | undefined {
    return this.access.get(sha1)
  }

  /** Runs `fn` with no reclassification, access flush or run batch in between. */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    return this.index.exclusive(fn)
  }

  /** What a run would evict next, in order (read lazily: stop when enough was seen). */
  async * plan (): AsyncGenerator<PlanEntry> {
    yield * this.parts.planner.candidates(emptySkips(), { gracePeriodMs: this.limits.gracePeriodMs })
  }

  private every (ms: number, what: string, fn: () => Promise<void>): void {
    const t = setInterval(() => {
      if (this.closed) return
      fn().catch((err: unknown) => { this.log.warn(`${what} failed`, err) })
    }, ms)
    t.unref()
    this.timers.push(t)
  }
}
