/**
 * Read size for ingest and reads. 1 MiB keeps syscalls few (a 1 GiB add is ~1k reads) while the
 * memory held per stream stays small and constant whatever the file size.
 */
export const IO_CHUNK_SIZE = 1024 * 1024

/** Characters of the hash used as the shard folder: 256 folders, ~4k files each at 1M blobs. */
export const SHARD_PREFIX_LENGTH = 2

/** Temp files older than this at open are leftovers of a killed process and are removed. */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000

/**
 * Blobs up to this size that arrive whole in memory (fetched small blobs, manifests) are appended
 * to pack files instead of getting a file each (see packs.ts). Below ~64 KiB a file's own costs
 * (inode, directory entry, four system calls, an fsync) outweigh writing its bytes; above it they
 * do not, and loose files keep large blobs' kernel-copy and Range paths simple.
 */
export const PACK_MAX_BYTES = 64 * 1024

/** Per-record header in a pack: the blob's 20-byte sha1 and its length as a 4-byte big-endian integer. */
export const PACK_HEADER_BYTES = 24

/**
 * A pack takes appends until it reaches this size, then a new one starts. Small enough that a
 * compaction's copy is quick (at most half of it is live), large enough that a store of a million
 * 4 KiB blobs has ~60 packs, not millions of files.
 */
export const PACK_TARGET_BYTES = 64 * 1024 * 1024

/**
 * A full pack whose live records fall below this share of its bytes is compacted. At 0.5 the dead
 * space of packed blobs is bounded by their live bytes, and each byte is copied at most once per
 * halving of its pack.
 */
export const PACK_COMPACT_LIVE_RATIO = 0.5

/** Bytes a compaction moves per index batch: bounds the memory it holds. */
export const PACK_COMPACT_GROUP_BYTES = 4 * 1024 * 1024

/** Read size when walking a pack (compaction, verify). */
export const PACK_WALK_BYTES = 1024 * 1024

/**
 * A compacted or emptied pack's file is removed this long after the index stopped pointing at it:
 * a read that looked a blob up just before the move opens the old file and still finds the bytes.
 */
export const PACK_RETIRE_GRACE_MS = 60_000

/**
 * First bytes of a blob stored from memory that the store's added event carries: space management
 * sniffs them for JSON (its SNIFF_BYTES, 64) instead of opening each new blob again (bench/small).
 */
export const ADDED_HEAD_BYTES = 64
