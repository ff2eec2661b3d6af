/**
 * Chunk size of large blobs. 4 MiB keeps a 1 GiB manifest at 256 entries (~12 KB), lets several
 * peers share even a 20 MiB file, and is large enough that per-chunk round trips cost little
 * next to the transfer itself on a LAN.
 */
export const CHUNK_SIZE = 4 * 1024 * 1024
/** Blobs larger than this get a chunk manifest at add time and are fetched in chunks. */
export const CHUNKED_THRESHOLD = 2 * CHUNK_SIZE
/** A manifest is JSON of 41 bytes per chunk; this bounds a manifest we accept from a peer (~1 TiB blob). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
/** How long `get` looks for providers (connected peers, announcements, DHT) before giving up. */
export const FIND_TIMEOUT_MS = 15_000
/**
 * Chunks requested from one provider at a time (one stream each): keeps its pipe full without
 * hoarding work. bench/fetch, 512 MiB from one provider on loopback (2 cores shared with other
 * load, runs of 3): 1 -> 30-36 MiB/s; 2 -> 65-88 MiB/s, peak RSS ~200 MB; 4 -> 73-127 MiB/s but
 * +20-30 MB RSS; 8 -> 78-82 MiB/s, +45 MB. 2 keeps a 4 GiB fetch near the 150 MB RSS goal.
 */
export const CHUNKS_IN_FLIGHT_PER_PEER = 2
/** Small blobs requested ahead on one fetch stream (round trips hidden behind transfers). */
export const SMALL_BLOBS_IN_FLIGHT = 64
/** Fault weights and the ban threshold for peers that misbehave in transfers. */
export const FAULT_BAD_DATA = 5
export const FAULT_STALL = 2
export const FAULT_PROTOCOL = 3
export const BAN_THRESHOLD = 10
/** A banned peer is not used for transfers for this long. */
export const BAN_DURATION_MS = 10 * 60 * 1000
/** Faults decay: a peer that behaved for this long is forgiven one fault point. */
export const FAULT_DECAY_MS = 5 * 60 * 1000
/** Between provider searches that found nothing, wait this long (peers may still be connecting). */
export const FIND_RETRY_MS = 500
/** Providers asked through the DHT at most per search. */
export const DHT_MAX_PROVIDERS = 8
/** Blobs up to this size are fetched whole into memory in batch transfers (a ref of many small files). */
export const SMALL_BLOB_MAX = 1024 * 1024
