/**
 * `/trove/announce/1.0.0`: tells connected peers which blobs this node has gained, batched and
 * deduplicated; hands what peers announce to `onAnnounce` (see protocols/announce.md).
 *
 * This file is the contract (`AnnounceProtocol`), what it needs (`AnnounceComponents`) and how it
 * is tuned (`AnnounceInit`); the implementation and its factory, `announceProtocol()`, are in
 * announce.ts (see protocols/fetch/index.ts for why the factory is not exported from here).
 */
import type { ComponentLogger } from '../../logger.js'
import type { TroveLibp2p } from '../../net/libp2p.js'

export { ANNOUNCE_PROTOCOL } from './constants.js'

/** A blob a peer says it holds. */
export interface AnnouncedBlob {
  sha1: string
  size: number
}

export interface AnnounceComponents {
  libp2p: Pick<TroveLibp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'>
  /**
   * Told what a peer announced, message by message (the node records it as providers). Returning
   * false says the peer has announced all it may for now (its share of the provider table): its
   * stream is reset, and its next streams too until this says otherwise (`accepts`).
   */
  onAnnounce: (peer: string, blobs: AnnouncedBlob[]) => boolean | void
  /** Whether a peer's announcements are read at all now (default: always). */
  accepts?: (peer: string) => boolean
  /** Where failures of background sends and of received streams go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

export interface AnnounceInit {
  /** New blobs are collected this long and sent together (default ANNOUNCE_BATCH_MS). */
  batchMs?: number
}

export interface AnnounceProtocol {
  /** Blobs announced to this node (for status and tests). */
  readonly received: number
  /** Starts receiving announcements. */
  start: () => Promise<void>
  /** Stops receiving and drops the pending batch's timer (call `flush` first to send it). */
  stop: () => Promise<void>
  /** Queues a blob to announce; duplicates within a batch collapse. */
  announce: (sha1: string, size: number) => void
  /** Sends everything queued to every connected peer now. */
  flush: () => Promise<void>
}
