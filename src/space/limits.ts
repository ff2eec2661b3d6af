import { InvalidArgumentError } from '../errors.js'
import { parseDuration, parseSize } from '../units.js'
import { DEFAULT_GC_INTERVAL_MS, DEFAULT_GRACE_PERIOD_MS, DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK, DEFAULT_MIN_FREE } from './constants.js'

/** Limits as a user gives them: config file, `trove start` flags, createTrove options. */
export interface SpaceLimitsInput {
  /** Space the node may use: blobs, database and downloads in progress (`500MB`, `10GiB`). */
  maxSize?: string | number
  /** Start evicting above this fraction of maxSize (`0.9` or `"90%"`). */
  highWatermark?: string | number
  /** A run stops once usage is at or below this fraction of maxSize. */
  lowWatermark?: string | number
  /** Free disk to keep on the volume (statfs). */
  minFree?: string | number
  /** Past this, unpinned writes and fetches fail with StorageFull (after evicting what they can). Default: maxSize. */
  hardLimit?: string | number
  /** Periodic expiry + eviction while the node runs (ms or a duration like `10m`; 0 = off). */
  gcIntervalMs?: string | number
  /** Unheld blobs younger than this are not evicted. */
  gracePeriodMs?: string | number
}

export interface SpaceLimits {
  maxSize?: number
  highWatermark: number
  lowWatermark: number
  minFree: number
  hardLimit?: number
  gcIntervalMs: number
  gracePeriodMs: number
}

/** Merges limit sources (later ones win) and validates the result. */
export function resolveLimits (...sources: Array<SpaceLimitsInput | undefined>): SpaceLimits {
  const merged: SpaceLimitsInput = {}
  for (const s of sources) {
    if (s === undefined) continue
    for (const [k, v] of Object.entries(s)) if (v !== undefined && v !== null) (merged as Record<string, unknown>)[k] = v
  }
  const limits: SpaceLimits = {
    highWatermark: fraction(merged.highWatermark, 'highWatermark', DEFAULT_HIGH_WATERMARK),
    lowWatermark: fraction(merged.lowWatermark, 'lowWatermark', DEFAULT_LOW_WATERMARK),
    minFree: merged.minFree !== undefined ? size(merged.minFree, 'minFree') : DEFAULT_MIN_FREE,
    gcIntervalMs: merged.gcIntervalMs !== undefined ? duration(merged.gcIntervalMs, 'gcIntervalMs') : DEFAULT_GC_INTERVAL_MS,
    gracePeriodMs: merged.gracePeriodMs !== undefined ? duration(merged.gracePeriodMs, 'gracePeriodMs') : DEFAULT_GRACE_PERIOD_MS
  }
  if (merged.maxSize !== undefined) limits.maxSize = size(merged.maxSize, 'maxSize')
  if (merged.hardLimit !== undefined) limits.hardLimit = size(merged.hardLimit, 'hardLimit')
  else if (limits.maxSize !== undefined) limits.hardLimit = limits.maxSize
  if (limits.lowWatermark >= limits.highWatermark) {
    throw new InvalidArgumentError(`lowWatermark (${limits.lowWatermark}) must be below highWatermark (${limits.highWatermark})`)
  }
  if (limits.maxSize !== undefined && limits.hardLimit !== undefined && limits.hardLimit < limits.maxSize * limits.highWatermark) {
    throw new InvalidArgumentError('hardLimit must be at least maxSize x highWatermark, or writes would fail before eviction starts')
  }
  return limits
}

/** The limit fields of a data directory's config (unknown fields are someone else's). */
export function limitsFromConfig (config: Record<string, unknown>): SpaceLimitsInput {
  const out: SpaceLimitsInput = {}
  for (const k of ['maxSize', 'highWatermark', 'lowWatermark', 'minFree', 'hardLimit', 'gcIntervalMs', 'gracePeriodMs'] as const) {
    const v = config[k]
    if (typeof v === 'string' || typeof v === 'number') out[k] = v
  }
  return out
}

function size (v: string | number, what: string): number {
  try {
    return parseSize(v)
  } catch (err) {
    throw new InvalidArgumentError(`${what}: ${(err as Error).message}`)
  }
}

function duration (v: string | number, what: string): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v
    throw new InvalidArgumentError(`${what} must be a non-negative number of ms, got ${v}`)
  }
  if (/^\d+$/.test(v.trim())) return Number(v.trim())
  try {
    return parseDuration(v)
  } catch (err) {
    throw new InvalidArgumentError(`${what}: ${(err as Error).message}`)
  }
}

function fraction (v: string | number | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt
  let f = typeof v === 'number' ? v : Number.NaN
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v)
    if (m !== null) f = Number(m[1]) / (m[2] === '%' ? 100 : 1)
  }
  if (!(f > 0 && f <= 1)) throw new InvalidArgumentError(`${what} must be a fraction in (0, 1] or a percentage like "90%", got ${JSON.stringify(v)}`)
  return f
}
