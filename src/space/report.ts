import type { PlanEntry, PlanSkips } from './planner.js'
import type { ExpiredRef } from './expiry-sweep.js'
import type { SpaceLimits } from './limits.js'

export type GcTrigger = 'manual' | 'watermark' | 'periodic' | 'hard-limit'

/** The result of `trove gc` (and of every background run, kept in the run history). */
export interface GcReport {
  dryRun: boolean
  trigger: GcTrigger
  startedAt: string
  durationMs: number
  /**
   * What the run aimed for: bytes to free to get under the low watermark / minimum free space /
   * hard limit, or every unreferenced blob when no size limit is configured.
   */
  target: { mode: 'bytes', bytes: number, why: string } | { mode: 'unreferenced', why: string }
  /** Usage (blobs + database + reservations) before and after. */
  usageBefore: number
  usageAfter: number
  evicted: { blobs: number, bytes: number }
  /** Evicted (or, in a dry run, to be evicted) blobs in order; all of them in a dry run, the first few otherwise. */
  blobs: Array<PlanEntry & {
    uri: string
    heldBy?: string[]
    /** In a dry run, for a blob of a directory: where it is, `sha1dir://<root manifest>/<path>`. */
    dir?: string
  }>
  /** Refs removed (or to be removed) by the expiry / ttl sweep. */
  expiredRefs: ExpiredRef[]
  skipped: PlanSkips
  errors: Array<{ sha1: string, error: string }>
  /** The target was reached. */
  satisfied: boolean
  /** When not: what is left is protected, and by what. */
  blocked?: string
  /** The run deleted enough for its emptied index range to be compacted at the next pause in writes. */
  compacted?: boolean
}

export interface ClassBytes {
  blobs: number
  bytes: number
}

export interface RunSummary {
  trigger: GcTrigger
  startedAt: string
  durationMs: number
  evictedBlobs: number
  evictedBytes: number
  expiredRefs: number
  satisfied: boolean
  blocked?: string
  errors: number
}

/** The space part of `trove status`. */
export interface SpaceStatus {
  limits: SpaceLimits
  usage: {
    /** Bytes of blob files (exact, from the counters kept with the blob index). */
    blobs: number
    /** The LevelDB directory. */
    db: number
    /** Reserved for writes and downloads in progress. */
    reserved: number
    total: number
    /** Free bytes on the data directory's volume (statfs). */
    diskFree?: number
  }
  /** Byte thresholds derived from maxSize and the watermarks. */
  thresholds?: { high: number, low: number, hard?: number }
  classes: {
    pinned: ClassBytes
    referenced: ClassBytes
    unreferenced: ClassBytes
    /** Held only by refs past their expiry or ttl, waiting for the sweep (part of "referenced"). */
    expired: ClassBytes
    /** Being written, fetched or served right now (part of the classes above). */
    leased: ClassBytes
    /** Stored but not classified yet (a moment after a write). */
    pending: ClassBytes
  }
  lastRuns: RunSummary[]
  running: boolean
  /** Set while the limit is exceeded and only protected content is left to evict. */
  overLimit?: { since: string, bytesOver: number, reason: string }
  metrics: { runs: number, evictedBlobs: number, evictedBytes: number, storageFullErrors: number, overLimitEvents: number }
}

/** The space part of `trove why`. */
export interface SpaceExplanation {
  class: 'pinned' | 'referenced' | 'unreferenced' | 'unknown'
  priority?: number
  minCopies?: number
  replicas: number
  lastUsed?: number
  addedAt?: number
  /** Unheld and younger than the grace period: kept until then. */
  graceUntil?: number
  leased: boolean
  /** A ref or pin changed a moment ago; being reclassified. */
  changing: boolean
  /** Holders reached through JSON blobs that reference this one (transitively). */
  via: Array<{ path: string[], key?: string, priority?: number, pin?: boolean, pinned?: boolean }>
  evictable: boolean
}
