/**
 * `/trove/fetch/1.0.0`: serves and requests blobs and byte ranges (see protocols/fetch.md).
 *
 * This file is the contract: what the protocol offers (`FetchProtocol`, `FetchSession`), what it
 * needs (`FetchComponents`) and how it is tuned (`FetchInit`). The implementation and its
 * factory, `fetchProtocol()`, are in fetch.ts: exporting the factory from here would import
 * fetch.ts, which imports these types, and scripts/import-graph.mjs counts that as a cycle.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { ComponentLogger } from '../../logger.js'
import type { TroveLibp2p } from '../../net/libp2p.js'
import type { BlobInfo, ReadOptions } from '../../store/blob-store.js'

export { FETCH_PROTOCOL } from './constants.js'

/** The blobs a fetch responder serves (the node's BlobStore). */
export interface BlobSource {
  /** Index entries of many blobs in one look-up, in order; undefined where one is not stored. */
  statMany: (sha1s: string[]) => Promise<Array<BlobInfo | undefined>>
  /** A small range in one read; BlobNotFoundError when the blob went away since its stat. */
  readBytes: (sha1: string, options: ReadOptions) => Promise<Uint8Array>
  /** A large range as a byte stream, destroyed when the answer ends (even early). */
  read: (sha1: string, options: ReadOptions) => Promise<AsyncIterable<Uint8Array> & { destroy: () => void }>
}

export interface FetchComponents {
  libp2p: Pick<TroveLibp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  blobs: BlobSource
  /** Where failures of served streams go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

export interface FetchInit {
  /** No byte either way for this long aborts a stream (default FETCH_STALL_TIMEOUT_MS). */
  stallTimeoutMs?: number
  /** Base of every request's deadline (default FETCH_DEADLINE_BASE_MS; see requestDeadlineMs). */
  deadlineBaseMs?: number
  /** Slowest rate a request's deadline allows for its bytes (default FETCH_MIN_BYTES_PER_SECOND). */
  minBytesPerSecond?: number
}

export interface RangeRequest {
  sha1: string
  offset?: number
  /** Bytes from offset; absent means to the end. */
  length?: number
}

/** Receives one answer's bytes; resolves when they are safely consumed (back-pressure). */
export type BytesSink = (chunk: Uint8Array) => Promise<void> | void

export interface AnswerInfo {
  /** Total size of the blob. */
  size: number
  /** Bytes delivered. */
  length: number
}

/** What `FetchSession.many` does with each answer. */
export interface ManyHandlers {
  /** Where the bytes of the answer to `req` go; called once its header says the blob's size. */
  sinkFor: (req: RangeRequest, size: number) => Promise<BytesSink> | BytesSink
  /** The answer to `req` is complete. */
  done: (req: RangeRequest, info: AnswerInfo) => Promise<void> | void
  /** The peer answered NOT_FOUND for `req` (a BlobNotFoundError); the batch goes on. */
  onMissing: (req: RangeRequest, err: Error) => void
}

/**
 * One fetch stream to one peer. Not safe for concurrent use: one request (or batch) at a time.
 * A failed exchange resets the stream, except a NOT_FOUND answer, after which the stream is
 * still in step; callers end a session with `close`, or with `abort` when they give up on it.
 */
export interface FetchSession {
  readonly peer: PeerId
  /**
   * Sends requests without waiting for their answers (several in one send): a chunked download
   * keeps the next chunk's request queued at the responder, so its bytes follow the previous
   * chunk's with no round trip between them. Read the answers with `answer`, in order.
   */
  ask: (reqs: RangeRequest | RangeRequest[], options?: AbortOptions) => Promise<void>
  /**
   * Yields the bytes of the answer to the oldest request asked and not yet answered, as they
   * arrive: the consumer's pace is the stream's pace (the reader pauses the peer while behind).
   */
  answer: (req: RangeRequest, options?: AbortOptions) => AsyncGenerator<Uint8Array>
  /** `ask` then `answer`: one blob or range. */
  get: (req: RangeRequest, options?: AbortOptions) => AsyncGenerator<Uint8Array>
  /**
   * Pipelines many requests: up to `inFlight` are asked ahead so thousands of small blobs cost
   * no round trip each. Answers go to `handlers` in request order.
   */
  many: (reqs: RangeRequest[], inFlight: number, handlers: ManyHandlers, options?: AbortOptions) => Promise<void>
  /** Resets the stream (the peer sees a reset, never a half-finished exchange). */
  abort: (err: unknown) => void
  close: () => Promise<void>
}

export interface FetchProtocol {
  /** Bytes served to peers since start (for status). */
  readonly bytesServed: number
  /** Blob answers (whole blobs or ranges) served to peers since start (for metrics). */
  readonly answersServed: number
  /** Starts serving the protocol. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Opens a session to `peer`, waiting for a free slot among those open to it (FETCH_SESSIONS_PER_PEER). */
  open: (peer: PeerId, options?: AbortOptions) => Promise<FetchSession>
}
