import type { RefStore } from '../refs/ref-store.js'
import type { Leases } from '../store/leases.js'
import { formatSize } from '../units.js'
import { formatUri } from '../uri.js'
import { formatDirUri } from '../dirs/uri.js'
import { DirLookup, type DirLookupComponents } from './dir-lookup.js'
import type { SpaceAccounting, Target } from './accounting.js'
import type { AccessTracker } from './access-tracker.js'
import { DELETE_BATCH, DRY_RUN_HELD_BY, DRY_RUN_MAX_LIST, RUN_HISTORY_BLOBS, RUN_YIELD_RATIO, WRITERS_ACTIVE_MS } from './constants.js'
import { expiredNow, removeExpired, type ExpiredRef, type ExpiryRefs } from './expiry-sweep.js'
import { emptySkips, type PlanEntry, type PlanSkips, type Planner } from './planner.js'
import type { ReplicaSource } from './replicas.js'
import type { GcReport, GcTrigger } from './report.js'
import type { SpaceIndex } from './space-index.js'
import type { WriteWatch } from './watch.js'

export interface GcRunComponents {
  refs: ExpiryRefs & Pick<RefStore, 'holdersMany'>
  leases: Pick<Leases, 'isLeased'>
  index: Pick<SpaceIndex, 'flushAccess' | 'drain' | 'deleteCandidates' | 'totals' | 'runActive'>
  planner: Pick<Planner, 'candidates' | 'skipReason'>
  accounting: Pick<SpaceAccounting, 'usage' | 'refreshDisk' | 'target'>
  access: Pick<AccessTracker, 'get'>
  watch: Pick<WriteWatch, 'writersActive'>
  /** Read at each last check: the network may come or go during a run. */
  replicas: () => ReplicaSource
  /** Where a dry run finds the directory each listed blob belongs to. */
  dirs?: DirLookupComponents
}

export interface GcRunInit {
  /** Plan and report only: nothing is swept, deleted or flushed, and every planned blob is listed. */
  dryRun?: boolean
  trigger: GcTrigger
  /** What to free instead of what the limits call for (`gc --free`). */
  target?: Target
  gracePeriodMs: number
  /** Stops deleting (the manager is closing). */
  signal?: AbortSignal
  /** Told how long the run paused for writers. */
  onYield?: (ms: number) => void
}

export interface GcOutcome {
  report: GcReport
  /** The last eviction index key deleted: the range up to it may be compacted. */
  lastKey?: string
}

/**
 * One run: the expiry sweep, then the plan read from the eviction index, deleted in batches until
 * the target is reached. A dry run takes the same path and stops short of changing anything: it
 * finds expired refs without removing them, and lists each planned batch instead of deleting it.
 */
export class GcRun {
  private readonly c: GcRunComponents
  private readonly init: GcRunInit
  private readonly dryRun: boolean
  private lastKey: string | undefined

  constructor (components: GcRunComponents, init: GcRunInit) {
    this.c = components
    this.init = init
    this.dryRun = init.dryRun === true
  }

  async run (): Promise<GcOutcome> {
    const { index, accounting } = this.c
    const t0 = Date.now()
    // a run reports the usage it started from; a dry run the usage it planned against
    let usageBefore = this.dryRun ? 0 : accounting.usage().total
    const expiredRefs = await this.expire()
    if (!this.dryRun) await index.flushAccess()
    await index.drain()
    await accounting.refreshDisk()
    const target = this.init.target ?? accounting.target(this.init.trigger)
    if (this.dryRun) usageBefore = accounting.usage().total
    const skips = emptySkips()
    const report: GcReport = {
      dryRun: this.dryRun,
      trigger: this.init.trigger,
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
      // background passes shrink while a run deletes (a dry run deletes nothing)
      if (!this.dryRun) index.runActive = true
      try {
        await this.evict(target, report)
      } finally {
        if (!this.dryRun) index.runActive = false
      }
      if (this.dryRun) await this.addHolders(report)
    }
    if (this.dryRun) {
      report.usageAfter = usageBefore - report.evicted.bytes
    } else {
      await accounting.refreshDisk()
      report.usageAfter = accounting.usage().total
    }
    report.satisfied = target.mode === 'unreferenced' || report.evicted.bytes >= target.bytes
    if (!report.satisfied) report.blocked = this.blockedBy(skips)
    report.durationMs = Date.now() - t0
    const out: GcOutcome = { report }
    if (this.lastKey !== undefined) out.lastKey = this.lastKey
    return out
  }

  /** The sweep's refs: removed by a run, only found by a dry run; none for a write waiting on the hard limit (it must be quick). */
  private async expire (): Promise<ExpiredRef[]> {
    if (this.init.trigger === 'hard-limit' && !this.dryRun) return []
    const now = Date.now()
    const expired = await expiredNow(this.c, now)
    return this.dryRun ? expired : removeExpired(this.c, expired, now)
  }

  /** Takes planned blobs in batches until the target is reached or nothing evictable is left. */
  private async evict (target: Target, report: GcReport): Promise<void> {
    const signal = this.init.signal
    // a run for a write waiting on the hard limit does not pause: that write is the one to serve
    const yieldToWriters = !this.dryRun && this.init.trigger !== 'hard-limit'
    let batch: PlanEntry[] = []
    let batchBytes = 0
    const reached = (): boolean => target.mode === 'bytes' && report.evicted.bytes + batchBytes >= target.bytes
    // without a target a dry run lists the first DRY_RUN_MAX_LIST; a run goes on to the end
    const listed = (): boolean => this.dryRun && target.mode === 'unreferenced' && report.evicted.blobs + batch.length >= DRY_RUN_MAX_LIST
    const take = async (): Promise<void> => {
      const todo = batch
      batch = []
      batchBytes = 0
      if (this.dryRun) this.list(todo, report)
      else await this.delete(todo, report)
    }
    const options = { onlyUnreferenced: target.mode === 'unreferenced', gracePeriodMs: this.init.gracePeriodMs }
    for await (const c of this.c.planner.candidates(report.skipped, options)) {
      if (signal?.aborted === true || reached() || listed()) break
      batch.push(c)
      batchBytes += c.size
      if (batch.length >= DELETE_BATCH || reached()) {
        const b0 = Date.now()
        await take()
        if (yieldToWriters && !reached()) await this.yieldToWriters(Date.now() - b0)
      }
    }
    if (batch.length > 0 && signal?.aborted !== true) await take()
  }

  /** A dry run's batch: what would go, all of it listed. */
  private list (batch: PlanEntry[], report: GcReport): void {
    for (const c of batch) {
      report.evicted.blobs++
      report.evicted.bytes += c.size
      report.blobs.push({ ...c, uri: formatUri(c.sha1) })
    }
  }

  /** A run's batch: deleted with a last check of each blob, the first RUN_HISTORY_BLOBS listed. */
  private async delete (batch: PlanEntry[], report: GcReport): Promise<void> {
    const planned = new Map(batch.map((c) => [c.sha1, c]))
    try {
      const res = await this.c.index.deleteCandidates(batch, (sha1) => this.vetoNow(planned.get(sha1) as PlanEntry))
      for (const d of res.deleted) {
        report.evicted.blobs++
        report.evicted.bytes += d.size
        const c = planned.get(d.sha1) as PlanEntry
        if (this.lastKey === undefined || c.key > this.lastKey) this.lastKey = c.key
        if (report.blobs.length < RUN_HISTORY_BLOBS) report.blobs.push({ ...c, uri: formatUri(c.sha1) })
        planned.delete(d.sha1)
      }
      report.errors.push(...res.errors)
      for (const e of res.errors) planned.delete(e.sha1)
      // kept at the last check (leased since planning, used, or its holds changing): counted as
      // skipped, so a run's report says why what it planned is still there
      for (const c of planned.values()) {
        const skip = this.c.leases.isLeased(c.sha1) ? report.skipped.leased : report.skipped.changing
        skip.blobs++
        skip.bytes += c.size
      }
    } catch (err) {
      // a failed batch fails its blobs, not the run
      for (const c of batch) report.errors.push({ sha1: c.sha1, error: (err as Error).message })
    }
  }

  /** The last check, synchronous, right before the blob's batch is written. */
  private vetoNow (c: PlanEntry): boolean {
    const used = this.c.access.get(c.sha1)
    if (used !== undefined && used > c.lastUsed) return true
    const v = { s: c.size, t: c.addedAt, ...(c.minCopies !== undefined ? { m: c.minCopies } : {}) }
    return this.c.planner.skipReason({ sha1: c.sha1, c: c.class === 'unreferenced' ? 'u' : 'r', v }, this.c.replicas(), Date.now(), this.init.gracePeriodMs) !== undefined
  }

  /**
   * Between delete batches, while refs, pins or blobs are being written, pauses for as long as the
   * batch took (RUN_YIELD_RATIO): writers are favoured over a run, which only has to keep going.
   */
  private async yieldToWriters (batchMs: number): Promise<void> {
    if (!this.c.watch.writersActive(WRITERS_ACTIVE_MS)) return
    const ms = Math.max(1, Math.round(batchMs * RUN_YIELD_RATIO))
    this.init.onYield?.(ms)
    await new Promise((resolve) => setTimeout(resolve, ms))
  }

  /**
   * A dry run names a few refs holding each referenced blob it lists, and the directory each blob
   * of a directory belongs to (`dir`: `sha1dir://<root>/<path>`); a blob held only through its
   * directory is named with the refs that hold the directory's root.
   */
  private async addHolders (report: GcReport): Promise<void> {
    const lookup = this.c.dirs !== undefined ? new DirLookup(this.c.dirs) : undefined
    const roots = new Map<string, string>()
    if (lookup !== undefined) {
      for (const b of report.blobs) {
        const place = await lookup.placeOf(b.sha1)
        if (place === undefined) continue
        b.dir = formatDirUri(place.root, place.path)
        roots.set(b.sha1, place.root)
      }
      // a root manifest listed with its blobs is listed as the directory itself
      const rootSet = new Set(roots.values())
      for (const b of report.blobs) if (b.dir === undefined && rootSet.has(b.sha1)) b.dir = formatDirUri(b.sha1)
    }
    const referenced = report.blobs.filter((b) => b.class === 'referenced')
    const holders = await this.c.refs.holdersMany([...new Set([...referenced.map((b) => b.sha1), ...roots.values()])], DRY_RUN_HELD_BY)
    for (const b of referenced) {
      const own = holders.get(b.sha1) ?? []
      const root = roots.get(b.sha1)
      b.heldBy = (own.length === 0 && root !== undefined ? holders.get(root) ?? [] : own).map((h) => h.key)
    }
  }

  private blockedBy (skips: PlanSkips): string {
    const d = skips.deferred
    if (d !== undefined) {
      return `waiting for ${formatUri(d.sha1)} (${formatSize(d.bytes)}) to leave its grace period at ${new Date(d.until).toISOString()}: ` +
        'unreferenced blobs are evicted before anything a ref holds, so nothing that ranks higher goes before it'
    }
    const t = this.c.index.totals
    const parts = [`${formatSize(t.protected.bytes)} pinned or held by pinned refs`]
    if (skips.leased.blobs > 0) parts.push(`${formatSize(skips.leased.bytes)} in use (leased)`)
    if (skips.grace.blobs > 0) parts.push(`${formatSize(skips.grace.bytes)} in the grace period`)
    if (skips.minCopies.blobs > 0) parts.push(`${formatSize(skips.minCopies.bytes)} kept for minCopies`)
    if (skips.changing.blobs > 0) parts.push(`${formatSize(skips.changing.bytes)} being reclassified`)
    return `only protected content is left: ${parts.join(', ')}`
  }
}
