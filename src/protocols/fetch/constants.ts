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
/**
 * Every request has an absolute deadline besides the stall timeout, which a peer that sends or
 * takes one byte at a time resets for ever. Both sides allow one request
 * `FETCH_DEADLINE_BASE_MS + bytes / FETCH_MIN_BYTES_PER_SECOND` (see requestDeadlineMs): the
 * responder from when it starts waiting for a request until the request is read, and from when
 * its answer's turn comes until the answer is sent; the requester from when it starts reading an
 * answer until its last byte. The base covers a wait for the request (never more than the stall
 * timeout when nothing comes), a busy disk and round trips; the rate is that of a slow but honest
 * link, at which a full 4 MiB chunk gets 30 s + 128 s = 158 s. A peer over it is dropped as a
 * stalled one is (PeerTimeoutError).
 */
export const FETCH_DEADLINE_BASE_MS = 30_000
/** The slowest transfer rate a request's deadline allows (32 KiB/s; see FETCH_DEADLINE_BASE_MS). */
export const FETCH_MIN_BYTES_PER_SECOND = 32 * 1024
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
