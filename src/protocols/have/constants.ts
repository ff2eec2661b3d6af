export const HAVE_PROTOCOL = '/trove/have/1.0.0'
/** Hashes per request: 4096 * 22 bytes = 90 KB, one message covers a large ref's blobs. */
export const MAX_HAVE_HASHES = 4096
/** Request bytes: the hashes plus protobuf framing. */
export const MAX_HAVE_REQUEST_BYTES = MAX_HAVE_HASHES * 24 + 64
/** Response bytes: per entry hash, flag, size and manifest hash. */
export const MAX_HAVE_RESPONSE_BYTES = MAX_HAVE_HASHES * 64 + 64
/** A have exchange is one round trip of index look-ups; longer means the peer is stuck. */
export const HAVE_TIMEOUT_MS = 5_000
/** Concurrent have streams per connection, each way. */
export const HAVE_MAX_INBOUND_STREAMS = 16
export const HAVE_MAX_OUTBOUND_STREAMS = 16
/** Have queries this node runs to one peer at once: below the peer's inbound limit, so none is reset. */
export const HAVE_QUERIES_PER_PEER = 8
/**
 * Have requests this node answers for one peer at once; the peer's further streams wait (within
 * their deadline) before their request is even read. An answer of 4,096 hashes holds a few MiB
 * while it is looked up and encoded; 16 at once from each of several peers took the node's RSS to
 * 2.4x idle and rising (issue 13 item 5). A quarter of what a node asks one peer at once
 * (HAVE_QUERIES_PER_PEER): an honest peer's burst waits a few look-ups' time here, not a deadline.
 */
export const HAVE_SERVES_PER_PEER = HAVE_QUERIES_PER_PEER / 4
/** Have requests answered at once from all peers together, so many peers cannot add up either. */
export const HAVE_SERVES_MAX = 16
