import type { DataDirLayout } from '../datadir.js'
import { StorageFullError } from '../errors.js'
import type { WriteGuard, WriteTicket } from '../store/blob-store.js'
import { formatSize } from '../units.js'
import { DISK_REFRESH_MS } from './constants.js'
import { dirBytes, freeBytes } from './disk.js'
import { limitsFromConfig, resolveLimits, type SpaceLimits, type SpaceLimitsInput } from './limits.js'
import type { GcReport, GcTrigger, SpaceStatus } from './report.js'

export type Usage = SpaceStatus['usage']
export type Target = GcReport['target']
export type OverLimit = NonNullable<SpaceStatus['overLimit']>

/** What the disk says: the LevelDB directory's bytes and the volume's free bytes (statfs). */
export type DiskProbe = () => Promise<{ db: number, free: number | undefined }>

/** What admission asks of the scheduler when bytes do not fit at once. */
export interface RoomMaker {
  /** Runs `fn` with no run and no other admission in between. */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>
  /**
   * Evicts at least `need` bytes for a write of `bytes` (called inside `exclusive`); when it could
   * not, says what the space waits for (a run's `blocked`).
   */
  makeRoom: (need: number, bytes: number) => Promise<string | undefined | void>
  /** Usage or limits changed: a background run may be due. */
  changed: () => void
  /** A write ended having stored (or found stored) this blob. */
  wrote: (sha1: string) => void
}

export interface AccountingComponents {
  /** The blob bytes, exact (counters kept with the blob index). */
  store: { getUsage: () => { bytes: number } }
  layout: Pick<DataDirLayout, 'db' | 'blobs'>
  room: RoomMaker
}

export interface AccountingInit {
  /** The data directory's config (its limit fields are read). */
  config?: Record<string, unknown>
  /** Limits that override the config. */
  limits?: SpaceLimitsInput
  /** Measures the disk; defaults to the data directory's database folder and volume. */
  disk?: DiskProbe
}

/**
 * Usage and limits: the blob counters plus the LevelDB directory plus reservations of writes and
 * downloads in progress, against maxSize's watermarks, the hard limit and the minimum free disk.
 * Every limit question is one function (`excess`) asked about a different line, so a write's
 * admission, the watermark trigger, a run's target and the over-limit state cannot disagree.
 */
export class SpaceAccounting {
  private input: SpaceLimitsInput
  private current: SpaceLimits
  private readonly store: AccountingComponents['store']
  private readonly room: RoomMaker
  private readonly disk: DiskProbe
  private reservedBytes = 0
  private dbBytes = 0
  private diskFree: number | undefined
  /** Usage when diskFree was measured: what was written since is subtracted from it. */
  private usageAtDisk = 0
  private diskAt = 0
  private diskRefresh: Promise<void> | undefined
  private over: OverLimit | undefined
  private readonly counts = { storageFullErrors: 0, overLimitEvents: 0 }

  constructor (components: AccountingComponents, init: AccountingInit = {}) {
    this.store = components.store
    this.room = components.room
    this.input = { ...limitsFromConfig(init.config ?? {}), ...definedOnly(init.limits ?? {}) }
    this.current = resolveLimits(this.input)
    const { layout } = components
    this.disk = init.disk ?? (async () => {
      const [db, free] = await Promise.all([dirBytes(layout.db), freeBytes(layout.blobs)])
      return { db, free }
    })
  }

  get limits (): SpaceLimits {
    return this.current
  }

  /** Changes limits (fields left undefined keep their value); throws InvalidArgumentError and keeps the old ones when they do not add up. */
  configure (limits: SpaceLimitsInput): void {
    const input = { ...this.input, ...definedOnly(limits) }
    this.current = resolveLimits(input)
    this.input = input
    this.room.changed()
  }

  /** Writes refused with StorageFullError, and times the limit was found exceeded with nothing left to evict. */
  get stats (): { storageFullErrors: number, overLimitEvents: number } {
    return { ...this.counts }
  }

  /** Set while the limit is exceeded and only protected content is left to evict. */
  get overLimit (): OverLimit | undefined {
    return this.over
  }

  usage (): Usage {
    const blobs = this.store.getUsage().bytes
    const total = blobs + this.dbBytes + this.reservedBytes
    const out: Usage = { blobs, db: this.dbBytes, reserved: this.reservedBytes, total }
    const free = this.free()
    if (free !== undefined) out.diskFree = free
    return out
  }

  /**
   * Reserves `bytes` (a download, or any write the caller accounts for itself), making room first
   * when they would pass the hard limit; pinned content may pass it. Resolves to the release
   * function; throws StorageFullError when not even evicting everything evictable makes room.
   */
  async reserve (bytes: number, options: { pinned?: boolean } = {}): Promise<() => void> {
    await this.admit(bytes, options.pinned === true)
    let released = false
    return () => {
      if (released) return
      released = true
      this.reservedBytes -= bytes
      this.room.changed()
    }
  }

  /**
   * The hook BlobStore consults as a write grows: what fits (or is pinned) is reserved at once;
   * the rest waits for room to be made.
   */
  guard (): WriteGuard {
    return {
      beginWrite: ({ pinned }): WriteTicket => {
        let held = 0
        return {
          grow: (total) => {
            if (total <= held) return undefined
            const more = total - held
            if (pinned || this.shortfall(more) <= 0) {
              this.reservedBytes += more
              held += more
              this.room.changed()
              return undefined
            }
            return this.admit(more, false).then(() => { held += more })
          },
          end: (sha1) => {
            this.reservedBytes -= held
            held = 0
            if (sha1 !== undefined) this.room.wrote(sha1)
            this.room.changed()
          }
        }
      }
    }
  }

  /** Adds `bytes` to the reservations, making room first if needed (unless pinned). */
  private async admit (bytes: number, pinned: boolean): Promise<void> {
    if (pinned || this.shortfall(bytes) <= 0) {
      this.reservedBytes += bytes
      this.room.changed()
      return
    }
    await this.room.exclusive(async () => {
      await this.refreshDisk()
      let need = this.shortfall(bytes)
      let blocked: string | undefined | void
      if (need > 0) {
        blocked = await this.room.makeRoom(need, bytes)
        need = this.shortfall(bytes)
      }
      if (need > 0) {
        this.counts.storageFullErrors++
        throw new StorageFullError(`storage full: ${formatSize(bytes)} more would pass the limit by ${formatSize(need)} and nothing more can be evicted${blocked !== undefined ? ` (${blocked})` : ''} (${this.describe()})`)
      }
      // decided and added with no await in between, so concurrent writers cannot both pass
      this.reservedBytes += bytes
    })
    this.room.changed()
  }

  /** Measures the database directory and the volume's free space (concurrent calls share one). */
  async refreshDisk (): Promise<void> {
    if (this.diskRefresh !== undefined) return this.diskRefresh
    this.diskRefresh = (async () => {
      const usageNow = this.store.getUsage().bytes + this.reservedBytes
      const { db, free } = await this.disk()
      this.dbBytes = db
      this.diskFree = free
      this.usageAtDisk = usageNow
      this.diskAt = Date.now()
    })().finally(() => { this.diskRefresh = undefined })
    return this.diskRefresh
  }

  /** The last measurement is older than DISK_REFRESH_MS. */
  diskStale (now = Date.now()): boolean {
    return now - this.diskAt > DISK_REFRESH_MS
  }

  /**
   * The one limit function: bytes by which usage plus `extra` passes `line` (`size`), and bytes by
   * which free disk minus `extra` falls short of minFree (`disk`); each 0 when inside, and when
   * there is no such line or no minFree (or no statfs figure).
   */
  excess (line: number | undefined, extra = 0): { size: number, disk: number } {
    const size = line === undefined ? 0 : Math.max(0, this.usage().total + extra - line)
    const { minFree } = this.current
    const free = this.free()
    const disk = minFree > 0 && free !== undefined ? Math.max(0, minFree - (free - extra)) : 0
    return { size, disk }
  }

  /** Byte lines derived from maxSize and the watermarks (none without maxSize). */
  thresholds (): { high: number, low: number } | undefined {
    const { maxSize, highWatermark, lowWatermark } = this.current
    if (maxSize === undefined) return undefined
    return { high: Math.floor(maxSize * highWatermark), low: Math.floor(maxSize * lowWatermark) }
  }

  /** Bytes that must be freed before `extra` more fit under the hard limit and the minimum free space. */
  shortfall (extra: number): number {
    const e = this.excess(this.current.hardLimit, extra)
    return Math.max(e.size, e.disk)
  }

  /** Bytes above the high watermark (or below the minimum free space), 0 when inside the limits. */
  overBy (): number {
    const e = this.excess(this.thresholds()?.high)
    return Math.max(e.size, e.disk)
  }

  /** True above the high watermark or below the minimum free space: time for a background run. */
  aboveHighWatermark (): boolean {
    return this.overBy() > 0
  }

  /** What a run started by `trigger` aims for. */
  target (trigger: GcTrigger): Target {
    const { maxSize, minFree } = this.current
    if (maxSize === undefined && minFree === 0) {
      if (trigger !== 'manual') return { mode: 'bytes', bytes: 0, why: 'no size limit configured' }
      return { mode: 'unreferenced', why: 'no size limit configured: every unreferenced blob past its grace period goes' }
    }
    // a periodic run only evicts once usage is past the high watermark, like a write-triggered one
    if (trigger === 'periodic' && !this.aboveHighWatermark()) return { mode: 'bytes', bytes: 0, why: 'usage is under the high watermark' }
    const low = this.thresholds()?.low
    const e = this.excess(low)
    let why = 'usage is under the low watermark'
    if (e.disk > e.size) why = `free disk ${formatSize(this.free() as number)} is below the minimum ${formatSize(minFree)}`
    else if (e.size > 0) why = `usage ${formatSize(this.usage().total)} is above the low watermark ${formatSize(low as number)}`
    const bytes = Math.max(e.size, e.disk)
    if (trigger === 'manual' && bytes === 0) why += ': nothing to evict'
    return { mode: 'bytes', bytes, why }
  }

  /**
   * After a run: a run that fell short while usage is still past the high watermark sets the
   * over-limit state (and returns the bytes over, the first time and every time after); once
   * usage is back inside, the state clears.
   */
  afterRun (report: Pick<GcReport, 'satisfied' | 'blocked'>): number | undefined {
    const over = this.overBy()
    if (!report.satisfied && over > 0) {
      if (this.over === undefined) this.counts.overLimitEvents++
      this.over = { since: this.over?.since ?? new Date().toISOString(), bytesOver: over, reason: report.blocked ?? '' }
      return over
    }
    if (over <= 0) this.over = undefined
    return undefined
  }

  /** The limits and usage in one line, for a StorageFullError. */
  describe (): string {
    const { maxSize, hardLimit, minFree } = this.current
    const parts: string[] = []
    if (hardLimit !== undefined) parts.push(`hard limit ${formatSize(hardLimit)}`)
    if (maxSize !== undefined) parts.push(`maxSize ${formatSize(maxSize)}`)
    if (minFree > 0) parts.push(`minFree ${formatSize(minFree)}`)
    parts.push(`in use ${formatSize(this.usage().total)}`)
    return parts.join(', ')
  }

  /** Free disk now: the last statfs figure less what was stored or reserved since. */
  private free (): number | undefined {
    if (this.diskFree === undefined) return undefined
    const now = this.store.getUsage().bytes + this.reservedBytes
    return this.diskFree - Math.max(0, now - this.usageAtDisk)
  }
}

function definedOnly (input: SpaceLimitsInput): SpaceLimitsInput {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(input)) if (v !== undefined && v !== null) out[k] = v
  return out as SpaceLimitsInput
}
