export const ANNOUNCE_PROTOCOL = '/trove/announce/1.0.0'
/** Blobs per announce message: 1024 * ~30 bytes keeps a message near 32 KB. */
export const MAX_ANNOUNCE_BLOBS = 1024
export const MAX_ANNOUNCE_MESSAGE_BYTES = MAX_ANNOUNCE_BLOBS * 40 + 64
/** Messages accepted per stream: a burst of adds is sent as several messages on one stream. */
export const MAX_ANNOUNCE_MESSAGES_PER_STREAM = 64
/** New blobs are collected this long and sent together (an `add` of 10k files is ~10 messages, not 10k). */
export const ANNOUNCE_BATCH_MS = 250
/** Blobs waiting to be announced at most; past this the oldest are dropped (peers can still ask with have). */
export const MAX_ANNOUNCE_QUEUE = 100_000
/** Sending one batch to one peer must finish within this. */
export const ANNOUNCE_TIMEOUT_MS = 10_000
export const ANNOUNCE_MAX_INBOUND_STREAMS = 4
export const ANNOUNCE_MAX_OUTBOUND_STREAMS = 4
