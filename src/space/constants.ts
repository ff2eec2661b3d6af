import { MAX_DIR_DEPTH, MAX_DIR_MANIFEST_BYTES } from '../dirs/constants.js'
/**
 * Fraction of maxSize at which a background eviction run starts. Below 1 so that a run has begun
 * long before writes reach the limit and would have to evict synchronously.
 */
export const DEFAULT_HIGH_WATERMARK = 0.9
/**
 * Fraction of maxSize a run evicts down to. The gap to the high watermark makes a run free a useful
 * amount at once (not one blob per write) without evicting everything.
 */
export const DEFAULT_LOW_WATERMARK = 0.8
/**
 * Free disk kept on the volume when a limit is configured. 0 by default: whoever shares the disk
 * decides; the hard limit and ENOSPC still protect the node.
 */
export const DEFAULT_MIN_FREE = 0
/**
 * Unheld blobs younger than this are not evicted, so `trove add` followed by `trove ref set` (two
 * commands, two processes) can never see the blob vanish in between.
 */
export const DEFAULT_GRACE_PERIOD_MS = 60_000
/** Periodic run of expiry and eviction while a node runs. 0 turns it off. */
export const DEFAULT_GC_INTERVAL_MS = 10 * 60_000
/** Write-triggered runs wait this long so a burst of writes starts one run, not hundreds. */
export const TRIGGER_DEBOUNCE_MS = 200
/** A run that freed less than this fraction of what it was asked for backs the next one off. */
export const BACKOFF_USEFUL_FRACTION = 0.1
/** First and longest wait after runs that freed little: stops a node full of protected data from spinning. */
export const BACKOFF_MIN_MS = 1_000
export const BACKOFF_MAX_MS = 5 * 60_000
/**
 * Blobs deleted per LevelDB batch (and per turn of the store's write queue). Small enough that adds
 * and reads interleave with a run, big enough that a 100k-blob run is a few hundred batches.
 */
export const DELETE_BATCH = 256
/** Dirty marks reclassified per pass; bounds the memory and the length of one batch. */
export const RECLASSIFY_BATCH = 512
/** Smaller background passes while a run deletes: each run batch waits behind at most one of them. */
export const RECLASSIFY_BATCH_DURING_RUN = 32
/** Above this many pending marks at open, rebuilding the whole index in one scan is cheaper. */
export const REBUILD_THRESHOLD = 200_000
/** Access times are flushed to LevelDB at most this often: a read must not cost a write. */
export const ACCESS_FLUSH_INTERVAL_MS = 30_000
/** Flushed earlier when this many blobs were read since the last flush, to bound memory. */
export const ACCESS_FLUSH_MAX_PENDING = 50_000
/**
 * JSON blobs up to this size are scanned for sha1:// references at ingest. The largest directory
 * manifest (MAX_DIR_MANIFEST_BYTES), which is larger than the largest ref and chunk manifest, so
 * every valid directory is followed and anything a ref could hold inline can be held through a blob.
 */
export const LINKS_MAX_BYTES = MAX_DIR_MANIFEST_BYTES
/**
 * Longest chain of JSON blobs followed when deciding what holds a blob; deeper counts as held (safe
 * side). Above the deepest directory (MAX_DIR_DEPTH manifests) with room for JSON blobs over it.
 */
export const MAX_LINK_DEPTH = MAX_DIR_DEPTH + 32
/**
 * Blobs in one "equal candidates" group for the replica preference: same class, same priority and
 * last used within the same LRU_BUCKET_MS. Bounded so one huge group cannot make planning read it whole.
 */
export const REPLICA_GROUP_MAX = 4096
/** Width of the last-use bucket within which candidates count as equally old for the replica preference. */
export const LRU_BUCKET_MS = 60 * 60_000
/** Runs remembered for `trove status`. */
export const RUN_HISTORY = 10
/** Evicted blobs listed per run in the history (the count and bytes are always exact). */
export const RUN_HISTORY_BLOBS = 20
/** A run that deleted this many blobs compacts the eviction index range it emptied (see COMPACT_QUIET_MS). */
export const COMPACT_AFTER_BLOBS = 50_000
/**
 * That compaction waits until no ref, pin or blob was written for this long: a LevelDB manual
 * compaction while writers are busy competes with their memtable flushes (a whole-database one took
 * over 4 minutes on a 1M-blob store under ref sets, slowing them meanwhile); in a pause the range
 * a 100k-blob run emptied takes 0.3-3.4 s.
 */
export const COMPACT_QUIET_MS = 2_000
/** Writes this recent make a run yield between its delete batches. */
export const WRITERS_ACTIVE_MS = 250
/**
 * While writers are active, a run pauses after each delete batch for this multiple of the time the
 * batch took. A run's reads and batches compete with ref sets for the main thread (classic-level
 * converts every operation there) and the cores LevelDB works on; at 1 a run takes at most about
 * half of the time while writers are busy, so it slows down by up to 2x rather than them.
 */
export const RUN_YIELD_RATIO = 1
/** The data directory's disk usage (LevelDB files) and free space are re-read at most this often. */
export const DISK_REFRESH_MS = 2_000
/** How often the background reconcile re-measures the database and checks the counters. */
export const RECONCILE_INTERVAL_MS = 10 * 60_000
/**
 * A write re-checks the hard limit each time it has grown by this much. Small against any sane
 * limit, large enough that the check costs nothing per chunk.
 */
export const WRITE_GROW_STEP = 4 * 1024 * 1024
/** Blobs listed by a dry run when there is no target (no limit configured). */
export const DRY_RUN_MAX_LIST = 10_000
/** Refs named per referenced blob in a dry run's list (`heldBy`): enough to say what holds it; `trove why` lists them all. */
export const DRY_RUN_HELD_BY = 3
/** Expired refs removed per sweep pass; the sweep loops until none are left. */
export const EXPIRY_BATCH = 1000
