import type { HistoryEntry, ListOptions, ListPage, PinRecord, RefRecord } from './refs/ref-store.js'
import type { RefMeta } from './refs/meta.js'
import type { Usage } from './store/blob-store.js'
import type { VerifyReport } from './store/verify.js'
import type { GcReport, SpaceExplanation } from './space/report.js'
import type { Encryption } from './net/constants.js'

export type { GcReport, SpaceExplanation, SpaceStatus } from './space/report.js'

export interface AddOptions {
  /** Record the added blobs under this ref key (obj: `{ "<name>": "sha1://..." }`). */
  ref?: string
  refMeta?: RefMeta
  pin?: boolean
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
  by?: string
}

export interface AddResult {
  uri: string
  sha1: string
  size: number
  /** false when the content was already stored. */
  added: boolean
  name?: string
}

export interface WhyReason {
  /** pin / ref: held directly; link: held through JSON blobs that reference it (`via`, nearest first). */
  kind: 'pin' | 'ref' | 'link'
  /** The ref key (for kinds "ref" and "link"). */
  key?: string
  priority?: number
  pin?: boolean
  since?: string
  /** JSON blobs between this blob and the holder (kind "link"). */
  via?: string[]
}

export interface WhyReport {
  uri: string
  sha1: string
  local: boolean
  size?: number
  /** true when some pin or live ref holds the blob; false means it is evictable cache. */
  kept: boolean
  pinned: boolean
  /** Highest priority among the refs that hold it (absent when none do). */
  priority?: number
  reasons: WhyReason[]
  /** Space management's view: class, last use, replicas, lease, grace period, whether it could be evicted now. */
  space?: SpaceExplanation
}

export interface StatusReport {
  version: string
  dataDir: string
  mode: 'embedded' | 'node'
  usage: Usage
  refs: number
  pins: number
  /** Pack files of small blobs: count, bytes on disk, bytes of live records (the rest is dead space until compaction). */
  packs?: { files: number, bytes: number, liveBytes: number }
  [extra: string]: unknown
}

export interface FetchProgress {
  bytes: number
  total?: number
  peers?: number
}

export interface FetchOptions {
  signal?: AbortSignal
  onProgress?: (progress: FetchProgress) => void
  /** Give up after this long when no provider can be found or none delivers. */
  timeoutMs?: number
}

export interface FetchManyOptions {
  signal?: AbortSignal
  onProgress?: (p: { done: number, total: number }) => void
  timeoutMs?: number
}

export interface FetchManyResult {
  fetched: number
  /** Already stored here. */
  local: number
  failed: Array<{ sha1: string, code: string, message: string }>
}

/** Options of `trove start` (flags override the data directory's config). */
export interface StartOptions {
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/4737. */
  listen?: string[]
  /** Multiaddrs (with /p2p/<id>) of peers to connect to at start. */
  bootstrap?: string[]
  /** mDNS discovery on the LAN (default true). */
  mdns?: boolean
  /** Kademlia DHT for content routing beyond directly connected peers. */
  dht?: boolean
  /** Path of a libp2p private-network swarm key file. */
  swarmKey?: string
  /** Size limit like "10GiB". */
  maxSize?: string
  /** Only these peer IDs may connect (with a swarm key, closes a lab network). */
  allowPeers?: string[]
  /** Yamux stream window in bytes (throughput setting; see bench/fetch). */
  streamWindow?: number
  /** Write downloaded chunks with O_DIRECT where the filesystem allows (default true; see docs/operations.md). */
  directWrites?: boolean
  /** Connection encryption in order of preference: 'noise' (default), 'tls'. */
  encryption?: Encryption[]
  /** How long a get looks for providers before failing. */
  findTimeoutMs?: number
  /** A peer silent this long in a transfer is dropped. */
  stallTimeoutMs?: number
  /** Batching delay of announcements. */
  announceBatchMs?: number
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
  /** Bytes received from this peer in transfers. */
  bytesReceived?: number
  /** Fault score; peers over the limit are banned. */
  faults?: number
}

export interface TransferInfo {
  sha1: string
  size?: number
  bytes: number
  peers: string[]
  startedAt: string
  state: 'finding' | 'fetching' | 'verifying' | 'done' | 'failed'
}

export interface ReadRange {
  offset?: number
  length?: number
}

/** The obj of a ref recording added files: `{ "<file name>": "sha1://<hash>/<file name>" }`. */
export function refObjFor (results: AddResult[]): Record<string, string> {
  const obj: Record<string, string> = {}
  for (const r of results) obj[r.name ?? r.sha1] = r.uri
  return obj
}

/**
 * What the CLI needs from Trove. The embedded node implements it directly; the HTTP client
 * implements it against a running node, so every command prints the same either way.
 */
export interface TroveOps {
  /** Expiry sweep and eviction down to the low watermark; with dryRun, only what would go and why. */
  gc: (options?: { dryRun?: boolean }) => Promise<GcReport>
  addFile: (file: string, options?: AddOptions) => Promise<AddResult>
  cat: (uri: string, range?: ReadRange) => Promise<AsyncIterable<Uint8Array>>
  setRef: (key: string, obj: unknown, meta?: RefMeta, options?: { by?: string }) => Promise<RefRecord>
  getRef: (key: string, options?: { version?: number }) => Promise<RefRecord>
  rmRef: (key: string, options?: { by?: string }) => Promise<{ key: string, version: number }>
  refHistory: (key: string) => Promise<HistoryEntry[]>
  listRefs: (options?: ListOptions) => Promise<ListPage>
  pin: (uri: string, options?: { by?: string }) => Promise<PinRecord>
  unpin: (uri: string) => Promise<{ sha1: string, unpinned: boolean }>
  why: (uri: string) => Promise<WhyReport>
  status: () => Promise<StatusReport>
  verify: (options?: { onProgress?: (p: { checked: number, total: number }) => void }) => Promise<VerifyReport>
  /** Fetches many blobs from peers (a ref's files); failures are listed, not thrown. */
  fetchMany: (uris: string[], options?: { signal?: AbortSignal, timeoutMs?: number }) => Promise<FetchManyResult>
  peers: () => Promise<PeerInfo[]>
  transfers: () => TransferInfo[] | Promise<TransferInfo[]>
  close: () => Promise<void>
}
