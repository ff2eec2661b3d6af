import type { DataDirLayout } from '../datadir.js'
import type { TroveDb } from '../db.js'
import { SPACE_RUNS } from '../db/keys.js'
import { StorageFullError } from '../errors.js'
import type { RefStore } from '../refs/ref-store.js'
import { SerialQueue } from '../serial.js'
import type { BlobStore, WriteGuard, WriteTicket } from '../store/blob-store.js'
import { formatSize } from '../units.js'
import { formatUri } from '../uri.js'
import { AccessTracker } from './access-tracker.js'
import {
  ACCESS_FLUSH_INTERVAL_MS, BACKOFF_MAX_MS, BACKOFF_MIN_MS, BACKOFF_USEFUL_FRACTION, COMPACT_AFTER_BLOBS, COMPACT_QUIET_MS, DELETE_BATCH,
  DISK_REFRESH_MS, DRY_RUN_HELD_BY, DRY_RUN_MAX_LIST, RECONCILE_INTERVAL_MS, RUN_HISTORY, RUN_HISTORY_BLOBS, RUN_YIELD_RATIO, TRIGGER_DEBOUNCE_MS,
  WRITERS_ACTIVE_MS
} from './constants.js'
import { dirBytes, freeBytes } from './disk.js'
import { findExpired, sweepExpired } from './expiry-sweep.js'
import { limitsFromConfig, resolveLimits, type SpaceLimits, type SpaceLimitsInput } from './limits.js'
import { Planner, emptySkips, type PlanEntry, type PlanSkips } from './planner.js'
import { NO_REPLICAS, type ReplicaSource } from './replicas.js'
import type { GcReport, GcTrigger, RunSummary } from './report.js'
import { SpaceIndex } from './space-index.js'
import { WriteWatch } from './watch.js'

export interface SpaceComponents {
  db: TroveDb
  store: BlobStore
  refs: RefStore
  layout: DataDirLayout
}

export interface SpaceInit {
  /** The data directory's config (its limit fields are read). */
  config?: Record<string, unknown>
  /** Limits that override the config (createTrove options, `trove start` flags). */
  limits?: SpaceLimitsInput
  /** Periodic runs and reconcile (a running node); write-triggered runs happen regardless. */
  background?: boolean
  replicas?: ReplicaSource
  /** One line per notable event (a run that could not reach its target, a failed run). */
  log?: (line: string) => void
}

export interface GcOptions {
  dryRun?: boolean
  trigger?: GcTrigger
  /** Evict (at least) this many bytes in eviction order, whatever the watermarks say. */
  freeBytes?: number
}

type Target = GcReport['target']

/**
 * Keeps the node inside the space it is given. Usage is the blob counters (exact, kept with the
 * blob index), plus the LevelDB directory, plus space reserved by writes and downloads in
 * progress. Above the high watermark a background run evicts down to the low watermark; a write
 * or download that would pass the hard limit first evicts synchronously and fails with
 * StorageFullError only when nothing evictable is left. One run at a time, debounced, backing
 * off while runs free little.
 */
export class SpaceManager {
  readonly watch: WriteWatch
  readonly access = new AccessTracker()
  readonly index: SpaceIndex
  readonly planner: Planner
  limits: SpaceLimits
  private limitInput: SpaceLimitsInput
  readonly metrics = { runs: 0, evictedBlobs: 0, evictedBytes: 0, storageFullErrors: 0, overLimitEvents: 0, compactions: 0, lastCompactionMs: 0, yieldedMs: 0 }
  private readonly db: TroveDb
  private readonly store: BlobStore
  private readonly refs: RefStore
  private readonly layout: DataDirLayout
  private readonly log: (line: string) => void
  private replicaSource: ReplicaSource
  private reservedBytes = 0
  private dbBytes = 0
  private diskFree: number | undefined
  /** Usage when diskFree was measured: what was written since is subtracted from it. */
  private usageAtDisk = 0
  private diskAt = 0
  private diskRefresh: Promise<void> | undefined
  private readonly runs = new SerialQueue()
  private running = 0
  private debounceTimer: NodeJS.Timeout | undefined
  private rerun = false
  private backoffMs = 0
  private readonly timers: NodeJS.Timeout[] = []
  private readonly unsubscribe: Array<() => void> = []
  private history: RunSummary[] = []
  private readonly runListeners = new Set<(report: GcReport) => void>()
  private overLimit: { since: string, bytesOver: number, reason: string } | undefined
  private readonly abort = new AbortController()
  private closed = false
  /** The end of the eviction index range emptied by large runs, compacted at the next pause in writes. */
  private compactUpTo: string | undefined
  private compactTimer: NodeJS.Timeout | undefined
  private compacting: Promise<void> | undefined

  constructor (components: SpaceComponents, init: SpaceInit = {}) {
    this.db = components.db
    this.store = components.store
    this.refs = components.refs
    this.layout = components.layout
    this.limitInput = { ...limitsFromConfig(init.config ?? {}), ...definedOnly(init.limits ?? {}) }
    this.limits = resolveLimits(this.limitInput)
    this.replicaSource = init.replicas ?? NO_REPLICAS
    this.log = init.log ?? (() => {})
    this.watch = new WriteWatch(this.db)
    this.index = new SpaceIndex({ db: this.db, store: this.store, refs: this.refs, watch: this.watch, access: this.access })
    this.planner = new Planner({ db: this.db, leases: this.store, watch: this.watch, access: this.access, replicas: () => this.replicaSource })
    if (init.background === true) this.startBackground()
  }

  async open (): Promise<void> {
    await this.index.open()
    this.history = (await this.db.spaceMeta.get(SPACE_RUNS) as RunSummary[] | undefined) ?? []
    await this.refreshDisk()
    this.store.space = this.guard()
    this.unsubscribe.push(this.store.onRead((sha1) => { this.access.touch(sha1) }))
    this.unsubscribe.push(this.store.onAdded(() => { this.maybeTrigger() }))
    this.access.onFull = () => { void this.index.flushAccess().catch((err: unknown) => { this.log(`space: access flush failed: ${String(err)}`) }) }
    this.every(ACCESS_FLUSH_INTERVAL_MS, async () => { await this.index.flushAccess() })
    this.every(DISK_REFRESH_MS, async () => { await this.refreshDisk() })
    this.maybeTrigger()
  }

  /** Periodic expiry + eviction and the reconcile of the counters, for a running node. */
  startBackground (): void {
    if (this.limits.gcIntervalMs > 0) this.every(this.limits.gcIntervalMs, async () => { await this.gc({ trigger: 'periodic' }) })
    this.every(RECONCILE_INTERVAL_MS, async () => { await this.reconcile() })
  }

  /**
   * Calls `listener` with the report of every run that ends from now on (not dry runs), so a
   * command can tell its user what was evicted while it ran. Returns the function that stops it.
   */
  onRun (listener: (report: GcReport) => void): () => void {
    this.runListeners.add(listener)
    return () => { this.runListeners.delete(listener) }
  }

  /** Changes limits while running (`trove start --max-size` after the node was created). */
  configure (limits: SpaceLimitsInput): void {
    const input = { ...this.limitInput, ...definedOnly(limits) }
    this.limits = resolveLimits(input)
    this.limitInput = input
    this.maybeTrigger()
  }

  /** Where known remote copies come from (the network sets this when it starts). */
  setReplicaSource (source: ReplicaSource | undefined): void {
    this.replicaSource = source ?? NO_REPLICAS
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    if (this.debounceTimer !== undefined) clearTimeout(this.debounceTimer)
    if (this.compactTimer !== undefined) clearTimeout(this.compactTimer)
    await this.compacting
    for (const u of this.unsubscribe) u()
    if (this.store.space !== undefined) this.store.space = undefined
    await this.runs.run(async () => {})
    await this.index.flushAccess().catch(() => {})
    await this.index.close()
  }

  usage (): { blobs: number, db: number, reserved: number, total: number, diskFree?: number } {
    const blobs = this.store.getUsage().bytes
    const total = blobs + this.dbBytes + this.reservedBytes
    const out: { blobs: number, db: number, reserved: number, total: number, diskFree?: number } = { blobs, db: this.dbBytes, reserved: this.reservedBytes, total }
    const free = this.free()
    if (free !== undefined) out.diskFree = free
    return out
  }

  /**
   * Reserves space for a download (or any write the caller accounts for itself), evicting first
   * when that would pass the hard limit. Resolves to the release function; throws StorageFullError
   * when not even evicting everything evictable makes room.
   */
  async reserve (bytes: number, options: { pinned?: boolean } = {}): Promise<() => void> {
    await this.admit(bytes, options.pinned === true)
    let released = false
    return () => {
      if (released) return
      released = true
      this.reservedBytes -= bytes
      this.maybeTrigger()
    }
  }

  /** The hook BlobStore consults as a write grows. */
  guard (): WriteGuard {
    return {
      beginWrite: ({ pinned }): WriteTicket => {
        let held = 0
        return {
          grow: (total) => {
            if (total <= held) return undefined
            const more = total - held
            const fast = pinned || this.shortfall(more) <= 0
            if (fast) {
              this.reservedBytes += more
              held += more
              this.maybeTrigger()
              return undefined
            }
            return this.admit(more, false).then(() => { held += more })
          },
          end: (sha1) => {
            this.reservedBytes -= held
            held = 0
            if (sha1 !== undefined) this.access.wrote(sha1)
            this.maybeTrigger()
          }
        }
      }
    }
  }

  /** Adds `bytes` to the reservations, evicting first if needed (unless pinned). */
  private async admit (bytes: number, pinned: boolean): Promise<void> {
    if (pinned || this.shortfall(bytes) <= 0) {
      this.reservedBytes += bytes
      this.maybeTrigger()
      return
    }
    await this.runs.run(async () => {
      await this.refreshDisk()
      let need = this.shortfall(bytes)
      if (need > 0) {
        await this.runInner('hard-limit', { mode: 'bytes', bytes: need, why: `a write of ${formatSize(bytes)} would pass the hard limit` })
        need = this.shortfall(bytes)
      }
      if (need > 0) {
        this.metrics.storageFullErrors++
        throw new StorageFullError(`storage full: ${formatSize(bytes)} more would pass the limit by ${formatSize(need)} and nothing more can be evicted (${this.describeLimit()})`)
      }
      // decided and added with no await in between, so concurrent writers cannot both pass
      this.reservedBytes += bytes
    })
    this.maybeTrigger()
  }

  /** Bytes that must be freed before `extra` more fit under the hard limit and the minimum free space. */
  shortfall (extra: number): number {
    let need = 0
    const { hardLimit, minFree } = this.limits
    if (hardLimit !== undefined) need = Math.max(need, this.usage().total + extra - hardLimit)
    const free = this.free()
    if (minFree > 0 && free !== undefined) need = Math.max(need, minFree - (free - extra))
    return need
  }

  private free (): number | undefined {
    if (this.diskFree === undefined) return undefined
    const now = this.store.getUsage().bytes + this.reservedBytes
    return this.diskFree - Math.max(0, now - this.usageAtDisk)
  }

  /** True above the high watermark or below the minimum free space: time for a background run. */
  aboveHighWatermark (): boolean {
    const { maxSize, highWatermark, minFree } = this.limits
    if (maxSize !== undefined && this.usage().total > maxSize * highWatermark) return true
    const free = this.free()
    return minFree > 0 && free !== undefined && free < minFree
  }

  private maybeTrigger (): void {
    if (this.closed) return
    if (Date.now() - this.diskAt > DISK_REFRESH_MS) void this.refreshDisk().catch(() => {})
    if (this.aboveHighWatermark()) this.scheduleRun('watermark')
  }

  /** One run at a time, debounced; while runs free little, the next waits longer. */
  scheduleRun (trigger: GcTrigger): void {
    if (this.closed) return
    if (this.debounceTimer !== undefined || this.running > 0) {
      this.rerun = true
      return
    }
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined
      void this.gc({ trigger }).catch((err: unknown) => {
        this.log(`space: ${trigger} run failed: ${(err as Error).message}`)
      }).finally(() => {
        if (this.rerun) {
          this.rerun = false
          if (this.aboveHighWatermark()) this.scheduleRun(trigger)
        }
      })
    }, TRIGGER_DEBOUNCE_MS + this.backoffMs)
    this.debounceTimer.unref()
  }

  async gc (options: GcOptions = {}): Promise<GcReport> {
    const explicit: Target | undefined = options.freeBytes !== undefined ? { mode: 'bytes', bytes: options.freeBytes, why: `asked to free ${formatSize(options.freeBytes)}` } : undefined
    if (options.dryRun === true) return this.dryRun(explicit)
    return this.runs.run(async () => this.runInner(options.trigger ?? 'manual', explicit))
  }

  /** What the next run aims for. */
  private targetFor (trigger: GcTrigger): Target {
    const { maxSize, lowWatermark, minFree } = this.limits
    const free = this.free()
    if (maxSize === undefined && minFree === 0) {
      if (trigger !== 'manual') return { mode: 'bytes', bytes: 0, why: 'no size limit configured' }
      return { mode: 'unreferenced', why: 'no size limit configured: every unreferenced blob past its grace period goes' }
    }
    // a periodic run only evicts once usage is past the high watermark, like a write-triggered one
    if (trigger === 'periodic' && !this.aboveHighWatermark()) return { mode: 'bytes', bytes: 0, why: 'usage is under the high watermark' }
    let bytes = 0
    let why = 'usage is under the low watermark'
    if (maxSize !== undefined) {
      const low = Math.floor(maxSize * lowWatermark)
      const total = this.usage().total
      if (total > low) {
        bytes = total - low
        why = `usage ${formatSize(total)} is above the low watermark ${formatSize(low)}`
      }
    }
    if (minFree > 0 && free !== undefined && free < minFree && minFree - free > bytes) {
      bytes = minFree - free
      why = `free disk ${formatSize(free)} is below the minimum ${formatSize(minFree)}`
    }
    if (trigger === 'manual' && bytes === 0) why += ': nothing to evict'
    return { mode: 'bytes', bytes, why }
  }

  private async runInner (trigger: GcTrigger, explicit?: Target): Promise<GcReport> {
    this.running++
    const t0 = Date.now()
    try {
      const usageBefore = this.usage().total
      // a synchronous eviction for a waiting write skips the sweep: it must be quick
      const expiredRefs = trigger === 'hard-limit' ? [] : await sweepExpired({ db: this.db, refs: this.refs })
      await this.index.flushAccess()
      await this.index.drain()
      await this.refreshDisk()
      const target = explicit ?? this.targetFor(trigger)
      const skips = emptySkips()
      const lastEvicted: { key?: string } = {}
      const report: GcReport = {
        dryRun: false,
        trigger,
        startedAt: new Date(t0).toISOString(),
        durationMs: 0,
        target,
        usageBefore,
        usageAfter: usageBefore,
        evicted: { blobs: 0, bytes: 0 },
        blobs: [],
        expiredRefs,
        skipped: skips,
        errors: [],
        satisfied: true
      }
      if (target.mode === 'unreferenced' || target.bytes > 0) {
        this.index.runActive = true
        try {
          await this.evict(target, skips, report, lastEvicted, trigger !== 'hard-limit')
        } finally {
          this.index.runActive = false
        }
      }
      await this.refreshDisk()
      report.usageAfter = this.usage().total
      report.satisfied = target.mode === 'unreferenced' || report.evicted.bytes >= target.bytes
      if (!report.satisfied) report.blocked = this.blockedBy(skips)
      if (report.evicted.blobs >= COMPACT_AFTER_BLOBS && lastEvicted.key !== undefined) {
        this.scheduleCompaction(lastEvicted.key)
        report.compacted = true
      }
      report.durationMs = Date.now() - t0
      this.afterRun(report)
      await this.record(report)
      for (const listener of this.runListeners) listener(report)
      return report
    } finally {
      this.running--
    }
  }

  /**
   * Compacts the emptied head of the eviction index once writes pause (COMPACT_QUIET_MS): until
   * then the deleted entries only cost the next plan a walk over them, while a compaction under
   * busy writers would stall them.
   */
  private scheduleCompaction (upTo: string): void {
    if (this.compactUpTo === undefined || upTo > this.compactUpTo) this.compactUpTo = upTo
    if (this.compactTimer !== undefined || this.closed) return
    const check = (): void => {
      this.compactTimer = undefined
      if (this.closed || this.compactUpTo === undefined) return
      const quietFor = Date.now() - this.watch.lastWriteAt
      if (quietFor < COMPACT_QUIET_MS || this.running > 0) {
        this.compactTimer = setTimeout(check, Math.max(COMPACT_QUIET_MS - quietFor, 100))
        this.compactTimer.unref()
        return
      }
      const key = this.compactUpTo
      this.compactUpTo = undefined
      const t0 = Date.now()
      this.compacting = this.index.compactEvicted(key).then(() => {
        this.metrics.compactions++
        this.metrics.lastCompactionMs = Date.now() - t0
      }, (err: unknown) => { this.log(`space: compaction failed: ${(err as Error).message}`) })
        .finally(() => { this.compacting = undefined })
    }
    this.compactTimer = setTimeout(check, COMPACT_QUIET_MS)
    this.compactTimer.unref()
  }

  /** Resolves once a compaction scheduled by a large run is done (none pending: at once). */
  async compacted (): Promise<void> {
    while (this.compactUpTo !== undefined || this.compacting !== undefined) {
      await (this.compacting ?? new Promise((resolve) => setTimeout(resolve, 100)))
    }
  }

  /** Deletes planned blobs in batches until the target is reached or nothing evictable is left. */
  private async evict (target: Target, skips: PlanSkips, report: GcReport, last: { key?: string }, yieldToWriters: boolean): Promise<void> {
    const signal = this.abort.signal
    let batch: PlanEntry[] = []
    let batchBytes = 0
    const deleteBatch = async (): Promise<void> => {
      const planned = new Map(batch.map((c) => [c.sha1, c]))
      const todo = batch
      batch = []
      batchBytes = 0
      try {
        const res = await this.index.deleteCandidates(todo, (sha1) => this.vetoNow(planned.get(sha1) as PlanEntry))
        for (const d of res.deleted) {
          report.evicted.blobs++
          report.evicted.bytes += d.size
          const c = planned.get(d.sha1) as PlanEntry
          if (last.key === undefined || c.key > last.key) last.key = c.key
          if (report.blobs.length < RUN_HISTORY_BLOBS) report.blobs.push({ ...c, uri: formatUri(c.sha1) })
          planned.delete(d.sha1)
        }
        report.errors.push(...res.errors)
        for (const e of res.errors) planned.delete(e.sha1)
        // kept at the last check (leased since planning, used, or its holds changing): counted as
        // skipped, so a run's report says why what it planned is still there
        for (const c of planned.values()) {
          const skip = this.store.isLeased(c.sha1) ? skips.leased : skips.changing
          skip.blobs++
          skip.bytes += c.size
        }
      } catch (err) {
        // a failed batch fails its blobs, not the run
        for (const c of todo) report.errors.push({ sha1: c.sha1, error: (err as Error).message })
      }
    }
    const reached = (): boolean => target.mode === 'bytes' && report.evicted.bytes + batchBytes >= target.bytes
    for await (const c of this.planner.candidates(skips, { onlyUnreferenced: target.mode === 'unreferenced', gracePeriodMs: this.limits.gracePeriodMs })) {
      if (signal.aborted || reached()) break
      batch.push(c)
      batchBytes += c.size
      if (batch.length >= DELETE_BATCH || reached()) {
        const b0 = Date.now()
        await deleteBatch()
        // a run for a write waiting on the hard limit does not pause: that write is the one to serve
        if (yieldToWriters && !reached()) await this.yieldToWriters(Date.now() - b0)
      }
    }
    if (batch.length > 0 && !signal.aborted) await deleteBatch()
  }

  /**
   * Between delete batches, while refs, pins or blobs are being written, pauses for as long as the
   * batch took (RUN_YIELD_RATIO): writers are favoured over a run, which only has to keep going.
   */
  private async yieldToWriters (batchMs: number): Promise<void> {
    if (!this.watch.writersActive(WRITERS_ACTIVE_MS)) return
    const ms = Math.max(1, Math.round(batchMs * RUN_YIELD_RATIO))
    this.metrics.yieldedMs += ms
    await new Promise((resolve) => setTimeout(resolve, ms))
  }

  /** The last check, synchronous, right before the blob's batch is written. */
  private vetoNow (c: PlanEntry): boolean {
    const used = this.access.get(c.sha1)
    if (used !== undefined && used > c.lastUsed) return true
    const v = { s: c.size, t: c.addedAt, ...(c.minCopies !== undefined ? { m: c.minCopies } : {}) }
    return this.planner.skipReason({ sha1: c.sha1, c: c.class === 'unreferenced' ? 'u' : 'r', v }, this.replicaSource, Date.now(), this.limits.gracePeriodMs) !== undefined
  }

  private blockedBy (skips: PlanSkips): string {
    const t = this.index.totals
    const parts = [`${formatSize(t.protected.bytes)} pinned or held by pinned refs`]
    if (skips.leased.blobs > 0) parts.push(`${formatSize(skips.leased.bytes)} in use (leased)`)
    if (skips.grace.blobs > 0) parts.push(`${formatSize(skips.grace.bytes)} in the grace period`)
    if (skips.minCopies.blobs > 0) parts.push(`${formatSize(skips.minCopies.bytes)} kept for minCopies`)
    if (skips.changing.blobs > 0) parts.push(`${formatSize(skips.changing.bytes)} being reclassified`)
    return `only protected content is left: ${parts.join(', ')}`
  }

  private afterRun (report: GcReport): void {
    this.metrics.runs++
    this.metrics.evictedBlobs += report.evicted.blobs
    this.metrics.evictedBytes += report.evicted.bytes
    if (report.target.mode === 'bytes' && report.target.bytes > 0) {
      const useful = report.evicted.bytes >= report.target.bytes * BACKOFF_USEFUL_FRACTION
      this.backoffMs = useful ? 0 : Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.backoffMs * 2))
    }
    const over = this.overBy()
    if (!report.satisfied && over > 0) {
      if (this.overLimit === undefined) this.metrics.overLimitEvents++
      this.overLimit = { since: this.overLimit?.since ?? new Date().toISOString(), bytesOver: over, reason: report.blocked ?? '' }
      this.log(`space: limit exceeded by ${formatSize(over)} and nothing evictable is left; ${report.blocked ?? ''}`)
    } else if (over <= 0) {
      this.overLimit = undefined
    }
  }

  /** Bytes above the high watermark (or below the minimum free space), 0 when inside the limits. */
  private overBy (): number {
    const { maxSize, highWatermark, minFree } = this.limits
    let over = 0
    if (maxSize !== undefined) over = Math.max(over, this.usage().total - Math.floor(maxSize * highWatermark))
    const free = this.free()
    if (minFree > 0 && free !== undefined) over = Math.max(over, minFree - free)
    return over
  }

  private async record (report: GcReport): Promise<void> {
    const summary: RunSummary = {
      trigger: report.trigger,
      startedAt: report.startedAt,
      durationMs: report.durationMs,
      evictedBlobs: report.evicted.blobs,
      evictedBytes: report.evicted.bytes,
      expiredRefs: report.expiredRefs.length,
      satisfied: report.satisfied,
      errors: report.errors.length
    }
    if (report.blocked !== undefined) summary.blocked = report.blocked
    this.history = [summary, ...this.history].slice(0, RUN_HISTORY)
    await this.db.spaceMeta.put(SPACE_RUNS, this.history)
  }

  /** What a run would do now, without doing it: the expiry sweep's refs and the blobs in order. */
  private async dryRun (explicit?: Target): Promise<GcReport> {
    const t0 = Date.now()
    await this.index.drain()
    await this.refreshDisk()
    const target = explicit ?? this.targetFor('manual')
    const skips = emptySkips()
    const usage = this.usage().total
    const report: GcReport = {
      dryRun: true,
      trigger: 'manual',
      startedAt: new Date(t0).toISOString(),
      durationMs: 0,
      target,
      usageBefore: usage,
      usageAfter: usage,
      evicted: { blobs: 0, bytes: 0 },
      blobs: [],
      expiredRefs: await this.refs.flushAccess().then(async () => findExpired({ db: this.db, refs: this.refs })),
      skipped: skips,
      errors: [],
      satisfied: true
    }
    if (target.mode === 'unreferenced' || target.bytes > 0) {
      for await (const c of this.planner.candidates(skips, { onlyUnreferenced: target.mode === 'unreferenced', gracePeriodMs: this.limits.gracePeriodMs })) {
        if (target.mode === 'bytes' && report.evicted.bytes >= target.bytes) break
        if (target.mode === 'unreferenced' && report.blobs.length >= DRY_RUN_MAX_LIST) break
        report.evicted.blobs++
        report.evicted.bytes += c.size
        report.blobs.push({ ...c, uri: formatUri(c.sha1) })
      }
      const referenced = report.blobs.filter((b) => b.class === 'referenced')
      const holders = await this.refs.holdersMany(referenced.map((b) => b.sha1), DRY_RUN_HELD_BY)
      for (const b of referenced) b.heldBy = (holders.get(b.sha1) ?? []).map((h) => h.key)
    }
    report.usageAfter = usage - report.evicted.bytes
    report.satisfied = target.mode === 'unreferenced' || report.evicted.bytes >= target.bytes
    if (!report.satisfied) report.blocked = this.blockedBy(skips)
    report.durationMs = Date.now() - t0
    return report
  }

  /** Measures the database directory and the volume's free space. */
  async refreshDisk (): Promise<void> {
    if (this.diskRefresh !== undefined) return this.diskRefresh
    this.diskRefresh = (async () => {
      const usageNow = this.store.getUsage().bytes + this.reservedBytes
      const [db, free] = await Promise.all([dirBytes(this.layout.db), freeBytes(this.layout.blobs)])
      this.dbBytes = db
      this.diskFree = free
      this.usageAtDisk = usageNow
      this.diskAt = Date.now()
    })().finally(() => { this.diskRefresh = undefined })
    return this.diskRefresh
  }

  /**
   * Corrects drift: re-measures the disk, and rebuilds the index when the per-class counters no
   * longer add up to the blob counters (a crash between a blob batch and its reclassification,
   * a hand-edited directory). Returns whether a rebuild was needed.
   */
  async reconcile (): Promise<boolean> {
    await this.refreshDisk()
    // ttl refs whose access time was never flushed (a killed process) are found by a full scan here
    await sweepExpired({ db: this.db, refs: this.refs }, Date.now(), { full: true })
    await this.index.drain()
    const t = this.index.totals
    const classified = t.protected.bytes + t.referenced.bytes + t.unreferenced.bytes
    const blobs = t.protected.blobs + t.referenced.blobs + t.unreferenced.blobs
    const usage = this.store.getUsage()
    const counted = await this.index.countTotals()
    const same = JSON.stringify(counted) === JSON.stringify(t)
    if (same && classified === usage.bytes && blobs === usage.blobs) return false
    if (this.watch.marks.size > 0) return false
    await this.index.rebuild()
    return true
  }

  describeLimit (): string {
    const { maxSize, hardLimit, minFree } = this.limits
    const parts: string[] = []
    if (hardLimit !== undefined) parts.push(`hard limit ${formatSize(hardLimit)}`)
    if (maxSize !== undefined) parts.push(`maxSize ${formatSize(maxSize)}`)
    if (minFree > 0) parts.push(`minFree ${formatSize(minFree)}`)
    parts.push(`in use ${formatSize(this.usage().total)}`)
    return parts.join(', ')
  }

  get lastRuns (): RunSummary[] {
    return [...this.history]
  }

  get isRunning (): boolean {
    return this.running > 0
  }

  get overLimitState (): { since: string, bytesOver: number, reason: string } | undefined {
    return this.overLimit
  }

  get replicas (): ReplicaSource {
    return this.replicaSource
  }

  private every (ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => {
      if (this.closed) return
      fn().catch((err: unknown) => { this.log(`space: ${(err as Error).message}`) })
    }, ms)
    t.unref()
    this.timers.push(t)
  }
}

function definedOnly (input: SpaceLimitsInput): SpaceLimitsInput {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(input)) if (v !== undefined && v !== null) out[k] = v
  return out as SpaceLimitsInput
}
