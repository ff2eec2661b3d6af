import type { TroveDb } from '../db.js'
import { SPACE_RUNS } from '../db/keys.js'
import { RUN_HISTORY } from './constants.js'
import type { GcReport, RunSummary } from './report.js'

/**
 * What the runs did: the last RUN_HISTORY summaries (persisted, shown by `trove status`), the
 * totals since start, and the listeners told of each run as it ends (dry runs are not runs).
 */
export class RunLog {
  private readonly db: Pick<TroveDb, 'spaceMeta'>
  private history: RunSummary[] = []
  private readonly totals = { runs: 0, evictedBlobs: 0, evictedBytes: 0 }
  private readonly listeners = new Set<(report: GcReport) => void>()

  constructor (components: { db: Pick<TroveDb, 'spaceMeta'> }) {
    this.db = components.db
  }

  async load (): Promise<void> {
    this.history = (await this.db.spaceMeta.get(SPACE_RUNS) as RunSummary[] | undefined) ?? []
  }

  get lastRuns (): RunSummary[] {
    return [...this.history]
  }

  get stats (): { runs: number, evictedBlobs: number, evictedBytes: number } {
    return { ...this.totals }
  }

  onRun (listener: (report: GcReport) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Counts a run that ended, keeps its summary, then tells the listeners. */
  async record (report: GcReport): Promise<void> {
    this.totals.runs++
    this.totals.evictedBlobs += report.evicted.blobs
    this.totals.evictedBytes += report.evicted.bytes
    this.history = [summaryOf(report), ...this.history].slice(0, RUN_HISTORY)
    await this.db.spaceMeta.put(SPACE_RUNS, this.history)
    for (const listener of this.listeners) listener(report)
  }
}

/** The line a run leaves in the history (`trove status`). */
function summaryOf (report: GcReport): RunSummary {
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
  return summary
}
