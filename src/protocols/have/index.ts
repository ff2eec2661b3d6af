/**
 * `/trove/have/1.0.0`: asks a peer which of a batch of blobs it holds (see protocols/have.md).
 *
 * This file is the contract (`HaveProtocol`), what it needs (`HaveComponents`) and how it is tuned
 * (`HaveInit`); the implementation and its factory, `haveProtocol()`, are in have.ts (see
 * protocols/fetch/index.ts for why the factory is not exported from here).
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { ComponentLogger } from '../../logger.js'
import type { TroveLibp2p } from '../../net/libp2p.js'
import type { BlobInfo } from '../../store/blob-store.js'

export { HAVE_PROTOCOL } from './constants.js'

export interface HaveAnswer {
  sha1: string
  have: boolean
  size?: number
  manifest?: string
}

/** Which blobs this node holds (the node's BlobStore). */
export interface BlobIndex {
  /** Index entries of many blobs in one look-up, in order; undefined where one is not stored. */
  statMany: (sha1s: string[]) => Promise<Array<BlobInfo | undefined>>
}

/** Which blobs have a chunk manifest (src/store/manifests.ts). */
export interface ManifestLookup {
  /** Manifest sha1 of each blob, in order; undefined where it has none. */
  getMany: (sha1s: string[]) => Promise<Array<string | undefined>>
}

export interface HaveComponents {
  libp2p: Pick<TroveLibp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  blobs: BlobIndex
  manifests: ManifestLookup
  /** Where failures of served streams go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

export interface HaveInit {
  /** Deadline of one exchange, each side (default HAVE_TIMEOUT_MS). */
  timeoutMs?: number
}

export interface HaveProtocol {
  /** Starts serving the protocol. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Asks one peer about up to MAX_HAVE_HASHES blobs; answers in request order. */
  query: (peer: PeerId, sha1s: string[], options?: AbortOptions) => Promise<HaveAnswer[]>
}
