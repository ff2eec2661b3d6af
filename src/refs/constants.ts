/** Longest ref key: long enough for deep lab paths, short enough to keep index keys small. */
export const MAX_KEY_LENGTH = 512
export const MAX_SEGMENT_LENGTH = 128
/**
 * Largest serialized ref (obj + meta). A ref listing 10,000 blobs by URI is ~0.6 MB; 16 MiB
 * leaves room for big manifests while keeping one set from stalling the database.
 */
export const MAX_REF_BYTES = 16 * 1024 * 1024
/** Page size of `list` when the caller gives none. */
export const DEFAULT_LIST_LIMIT = 1000
/**
 * Access times for `ttl` are kept in memory and written at most this often: a read must not
 * cost a write, and losing a few seconds of access history on a crash only delays expiry.
 */
export const ACCESS_FLUSH_INTERVAL_MS = 30_000
/**
 * Edges read per native call when listing the holders of many blobs with one iterator: most blobs
 * have a few, and a read past one blob's edges runs into the next blob's, so small blocks waste little.
 */
export const HOLDERS_READ_AHEAD = 8
