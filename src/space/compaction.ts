import type { Logger } from '../logger.js'
import { COMPACT_QUIET_MS } from './constants.js'
import type { SpaceIndex } from './space-index.js'
import type { WriteWatch } from './watch.js'

export interface CompactorComponents {
  index: Pick<SpaceIndex, 'compactEvicted'>
  watch: Pick<WriteWatch, 'lastWriteAt'>
  log: Logger
}

export interface CompactorInit {
  /** True while a run is in progress: the compaction waits for it too. */
  busy: () => boolean
}

/**
 * Compacts the emptied head of the eviction index after a large run, once writes pause
 * (COMPACT_QUIET_MS): until then the deleted entries only cost the next plan a walk over them,
 * while a compaction under busy writers would stall them.
 */
export class Compactor {
  private readonly c: CompactorComponents
  private readonly busy: () => boolean
  /** The end of the eviction index range emptied by large runs, compacted at the next pause in writes. */
  private upTo: string | undefined
  private timer: NodeJS.Timeout | undefined
  private compacting: Promise<void> | undefined
  private closed = false
  private count = 0
  private lastMs = 0

  constructor (components: CompactorComponents, init: CompactorInit) {
    this.c = components
    this.busy = init.busy
  }

  /** Compactions done, and how long the last one took. */
  get stats (): { compactions: number, lastCompactionMs: number } {
    return { compactions: this.count, lastCompactionMs: this.lastMs }
  }

  schedule (upTo: string): void {
    if (this.upTo === undefined || upTo > this.upTo) this.upTo = upTo
    if (this.timer !== undefined || this.closed) return
    const check = (): void => {
      this.timer = undefined
      if (this.closed || this.upTo === undefined) return
      const quietFor = Date.now() - this.c.watch.lastWriteAt
      if (quietFor < COMPACT_QUIET_MS || this.busy()) {
        this.timer = setTimeout(check, Math.max(COMPACT_QUIET_MS - quietFor, 100))
        this.timer.unref()
        return
      }
      const key = this.upTo
      this.upTo = undefined
      const t0 = Date.now()
      this.compacting = this.c.index.compactEvicted(key).then(() => {
        this.count++
        this.lastMs = Date.now() - t0
      }, (err: unknown) => { this.c.log.warn('compaction failed', err) })
        .finally(() => { this.compacting = undefined })
    }
    this.timer = setTimeout(check, COMPACT_QUIET_MS)
    this.timer.unref()
  }

  /** Resolves once a scheduled compaction is done (none pending: at once). */
  async done (): Promise<void> {
    while (this.upTo !== undefined || this.compacting !== undefined) {
      await (this.compacting ?? new Promise((resolve) => setTimeout(resolve, 100)))
    }
  }

  /** Drops what is pending; waits for a compaction already started. */
  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.compacting
  }
}
