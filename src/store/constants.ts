/**
 * Read size for ingest and reads. 1 MiB keeps syscalls few (a 1 GiB add is ~1k reads) while the
 * memory held per stream stays small and constant whatever the file size.
 */
export const IO_CHUNK_SIZE = 1024 * 1024

/** Characters of the hash used as the shard folder: 256 folders, ~4k files each at 1M blobs. */
export const SHARD_PREFIX_LENGTH = 2

/** Temp files older than this at open are leftovers of a killed process and are removed. */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000
