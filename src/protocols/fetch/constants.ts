export const FETCH_PROTOCOL = '/trove/fetch/1.0.0'
/** A request is a hash and two integers; anything bigger is not a request. */
export const MAX_FETCH_REQUEST_BYTES = 128
/** A response header: status, two integers and a short message. */
export const MAX_FETCH_RESPONSE_HEADER_BYTES = 1024
/** Requests served on one stream before the server closes it (bounds one client's hold). */
export const MAX_REQUESTS_PER_STREAM = 1_000_000
/**
 * No byte in either direction for this long aborts the stream: a stalled peer is dropped and its
 * work goes to another provider. Long enough for a busy disk, short enough for an interactive get.
 */
export const FETCH_STALL_TIMEOUT_MS = 20_000
/** Time to open a fetch stream (dial + protocol negotiation). */
export const FETCH_OPEN_TIMEOUT_MS = 10_000
/** Concurrent fetch streams per connection: a few chunk workers plus a small-blob session. */
export const FETCH_MAX_INBOUND_STREAMS = 16
export const FETCH_MAX_OUTBOUND_STREAMS = 16
/**
 * Fetch sessions this node keeps open to one peer at once; further callers wait for one to close.
 * Half the peer's inbound limit: the peer still counts our streams while they close, and over
 * its limit it resets new ones (bench/small with 64 concurrent gets hit exactly that).
 */
export const FETCH_SESSIONS_PER_PEER = FETCH_MAX_OUTBOUND_STREAMS / 2
/**
 * Answers up to this size are read with one positioned read and sent with their header in one
 * write; larger ones stream. Small enough that a burst of such answers holds little memory.
 */
export const SMALL_ANSWER_BYTES = 256 * 1024
/**
 * Requests already received that are answered together at most. With SMALL_ANSWER_BYTES this
 * bounds what one batch holds in memory (32 x 256 KiB = 8 MiB).
 */
export const MAX_BATCHED_ANSWERS = 32
