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
 * Chunk requests a provider has outstanding on its one stream: the next chunk is already asked
 * for while the current one arrives, so the responder streams chunk after chunk with no round
 * trip between them, in order (from one provider, the whole-blob hash never reads a chunk back
 * from disk). More would only hoard chunks at a provider that may turn out slow.
 */
export const CHUNKS_IN_FLIGHT_PER_PEER = 2
/**
 * Chunk buffers per provider: one receives while the other is hashed and written. Each is a
 * chunk (4 MiB), so this and the stream window bound what a download holds per provider.
 */
export const CHUNK_BUFFERS_PER_PEER = 2
/**
 * Resume state is saved at most this often while chunks land, and once when the download stops.
 * A crash loses at most this much progress (~100-250 MiB at LAN and loopback rates), never correctness:
 * resume re-hashes what it keeps.
 */
export const PARTIAL_SAVE_INTERVAL_MS = 1000
/**
 * Small blobs requested ahead on one fetch stream (round trips hidden behind transfers). 256 (a
 * MiB of 4 KiB answers) keeps a responder's next batches queued while the receiver stores the
 * last ones; with 64 both sides spent part of the time waiting on each other (bench/small).
 */
export const SMALL_BLOBS_IN_FLIGHT = 256
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
/**
 * Single-blob fetches gathered into one batch at most (see FetchCoalescer); the have protocol
 * takes 4,096 hashes per request, and one batch's answers are stored as they arrive.
 */
export const COALESCE_MAX_BATCH = 4096
/**
 * Coalesced batches running at once. Two: one collects new requests while the other runs, and
 * a request that arrives while a long batch runs does not wait for all of it.
 */
export const COALESCE_BATCHES_IN_FLIGHT = 2
/** DHT provide records published at once: providing is a network walk, so it runs in the background. */
export const DHT_PROVIDE_CONCURRENCY = 4
/** One provide walk may take this long before it is abandoned (and retried). */
export const DHT_PROVIDE_TIMEOUT_MS = 60_000
/** A failed provide is retried after 5 s, 10 s, 20 s, ... up to this many attempts in all. */
export const DHT_PROVIDE_ATTEMPTS = 6
export const DHT_PROVIDE_RETRY_MS = 5_000
/** Blobs waiting to be provided on the DHT at most; past this the oldest wait for the next restart. */
export const MAX_PROVIDE_QUEUE = 100_000
