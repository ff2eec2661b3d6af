import os from 'node:os'
import path from 'node:path'
import { RefNotObjectError } from './errors.js'
import type { HistoryEntry, ListOptions, ListPage, PinRecord, RefRecord } from './refs/ref-store.js'
import type { RefMeta } from './refs/meta.js'
import type { Usage } from './store/blob-store.js'
import type { VerifyReport } from './store/verify.js'
import { RUN_HISTORY_BLOBS } from './space/constants.js'
import type { GcReport, GcTrigger, SpaceExplanation } from './space/report.js'
import type { Encryption } from './net/constants.js'

export type { GcReport, SpaceExplanation, SpaceStatus } from './space/report.js'

export interface AddOptions {
  /**
   * Record the added blobs under this ref key: each file becomes a member `"<entry>": "sha1://..."`
   * of the ref's object, merged into what the ref already holds (see `refEntryNames`, `mergeRefObj`).
   */
  ref?: string
  /** Meta fields for that ref; fields not given keep the ref's current values. */
  refMeta?: RefMeta
  pin?: boolean
  signal?: AbortSignal
  /** Bytes of the file being stored so far; `file` is its index among the files of `addFiles`. */
  onProgress?: (bytes: number, file?: number) => void
  by?: string
}

/** `addStream`: content from a stream, recorded as a file of this name (in its URI, and in the ref). */
export interface AddStreamOptions extends AddOptions {
  name?: string
}

export interface AddResult {
  uri: string
  sha1: string
  size: number
  /** false when the content was already stored. */
  added: boolean
  name?: string
  /** With a ref: the name of this file's member in the ref's object (`refEntryNames`). */
  entry?: string
  /** Space runs that evicted content while this file was stored (absent when none did). */
  evictions?: Eviction[]
}

/** Progress of `addDir`: files stored so far and their bytes. */
export interface AddDirProgress {
  files: number
  bytes: number
}

/** `addDir`: a local directory, stored as files and one manifest per directory (docs/formats.md). */
export interface AddDirOptions {
  /** Record the directory under this ref key as a member `"<dir name>": "sha1dir://..."`, merged into what the ref holds. */
  ref?: string
  /** Meta fields for that ref; fields not given keep the ref's current values. */
  refMeta?: RefMeta
  /** Pin the root manifest: a pin of a directory keeps every blob below it. */
  pin?: boolean
  /** Follow symlinks that stay inside the tree (else a symlink is refused with INVALID_DIR_ENTRY). */
  followSymlinks?: boolean
  signal?: AbortSignal
  onProgress?: (progress: AddDirProgress) => void
  by?: string
}

export interface AddDirResult {
  /** `sha1dir://<root manifest sha1>`. */
  uri: string
  /** The root manifest's sha1. */
  sha1: string
  /** The directory's own name (its base name). */
  name: string
  /** Regular files stored. */
  files: number
  /** Directories, the root included. */
  dirs: number
  /** Bytes of all files. */
  bytes: number
  /** With a ref: the name of the directory's member in the ref's object. */
  entry?: string
  /** Files that changed while they were stored (paths relative to the directory): what was read is what was stored. */
  changed?: string[]
  /** Sockets, FIFOs and devices left out (paths relative to the directory). */
  skipped?: string[]
  /** Space runs that evicted content while the directory was stored (absent when none did). */
  evictions?: Eviction[]
}

/**
 * A space run that evicted content (or removed expired refs) while a command ran: what went, how
 * much and why. `add` and the fetching commands report these, so a user learns that making room
 * for their data cost other data.
 */
export interface Eviction {
  trigger: GcTrigger
  /** Why the run ran: its target, like "a write of 5 MiB would pass the hard limit". */
  why: string
  evicted: { blobs: number, bytes: number }
  /** The evicted blobs in eviction order (the first 20 of a large run), each with why it went first. */
  blobs: Array<{ uri: string, size: number, class: 'unreferenced' | 'referenced', priority?: number, reason: string }>
  /** How many refs the run's expiry sweep removed, and the first 20 of them. */
  removedRefs: number
  expiredRefs: Array<{ key: string, reason: 'expires' | 'ttl' }>
  /** The run could not free all it aimed for: what is left is protected, and by what. */
  blocked?: string
}

/** The evicting runs among a command's space runs, as `Eviction`s (runs that changed nothing are left out). */
export function evictionsOf (reports: GcReport[]): Eviction[] {
  return reports.filter((r) => !r.dryRun && (r.evicted.blobs > 0 || r.expiredRefs.length > 0)).map((r) => {
    const e: Eviction = {
      trigger: r.trigger,
      why: r.target.why,
      evicted: { ...r.evicted },
      blobs: r.blobs.map((b) => {
        const out: Eviction['blobs'][number] = { uri: b.uri, size: b.size, class: b.class, reason: b.reason }
        if (b.priority !== undefined) out.priority = b.priority
        return out
      }),
      removedRefs: r.expiredRefs.length,
      expiredRefs: r.expiredRefs.slice(0, RUN_HISTORY_BLOBS).map((x) => ({ key: x.key, reason: x.reason }))
    }
    if (r.blocked !== undefined) e.blocked = r.blocked
    return e
  })
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
  /**
   * For a blob inside a stored directory: where, as `sha1dir://<root manifest>/<path>` (the
   * outermost directory found; the link reasons say what holds that root).
   */
  dir?: string
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
  /** The network side, while one runs. */
  network?: NetworkStatus
  [extra: string]: unknown
}

/** The network side of a running node, as `status` reports it. */
export interface NetworkStatus {
  peerId: string
  addresses: string[]
  /** Connected peers. */
  peers: number
  /** Whether the Kademlia DHT runs. */
  dht: boolean
  /** Blob bytes sent to peers since the network started. */
  bytesServed: number
  /** Blobs some peer is known to hold (from announcements and look-ups). */
  knownProviders: number
}

/**
 * What a node says about itself beyond the contract: the API's status answer and `trove start`'s
 * first line carry it.
 */
export interface NodeInfo {
  /** The libp2p peer id, while the network runs. */
  readonly peerId: string | undefined
  /** Addresses other nodes can dial (empty while no network runs). */
  multiaddrs: () => string[]
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

export interface ExportOptions extends FetchOptions {
  /** Replace `dest` when it exists. */
  force?: boolean
  /** An independent copy, never a hard link to the stored blob. */
  copy?: boolean
}

/** A blob put at a path by `exportBlob`. */
export interface ExportResult extends FetchedBlob {
  path: string
  /** `link`: `path` is the stored file (hard link, read-only); `copy`: a file of its own. */
  how: 'link' | 'copy'
}

/** A blob made local by `fetchBlob`. */
export interface FetchedBlob {
  sha1: string
  size: number
  /** Space runs that evicted content while room was made for it (absent when none did). */
  evictions?: Eviction[]
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

/** How `cat` reaches content a running node has to fetch from its peers first. */
export interface CatOptions {
  /** How long the node looks for peers that hold it (default: the node's find timeout). */
  timeoutMs?: number
  /** Told of space runs that evicted content while the node made room for the fetched blob. */
  onEvictions?: (evictions: Eviction[]) => void
  /**
   * Told the whole blob's size before its first byte, when `cat` reads a whole blob: the store's,
   * or for a blob streamed while it is fetched its chunk manifest's (a stream that would not
   * match it fails instead of ending).
   */
  onSize?: (size: number) => void
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

/** What `blobInfo` says of a blob without fetching it. */
export interface BlobInfoReport {
  sha1: string
  /**
   * Size in bytes: the stored blob's, else the one most providers claim (a peer's word, never
   * used for data: fetched bytes are always re-hashed). Absent when no one is known to hold it.
   */
  size?: number
  /** Stored on this node. */
  local: boolean
  /** Peer ids that hold it: those that answered now for a remote blob, those known for a local one. */
  providers: string[]
}

export interface BlobInfoOptions {
  /** Look for providers as a fetch does, until one answers or the timeout passes (then NoProvidersError). */
  wait?: boolean
  timeoutMs?: number
  signal?: AbortSignal
}

export interface ReadRange {
  offset?: number
  length?: number
}

/** One entry of a directory listing (`listDir`, `GET /dirs/{sha1}/{path}`). */
export interface DirListEntry {
  name: string
  kind: 'file' | 'dir'
  /** The file's blob, or the subdirectory's manifest. */
  sha1: string
  /** A file's size; a directory's total bytes of all files below it. */
  size: number
  exec: boolean
  /** A file: its blob is stored here. A directory: its manifest is (listing it needs no peer); what lies below is not looked at. */
  local: boolean
}

/** What a `sha1dir://` URI names, and for a directory its entries (a page of them). */
export interface DirListing {
  /** The URI listed, normalised (`sha1dir://<root>/<path>`). */
  uri: string
  kind: 'file' | 'dir'
  /** The directory's manifest, or the file's blob. */
  sha1: string
  /** Total bytes of the files below (a directory) or the file's size. */
  size: number
  /** A directory: its entries in name order (this page); a file: the file itself. */
  entries: DirListEntry[]
  /** Entries in the directory (all pages); 1 for a file. */
  total: number
  /** Give as `cursor` to get the next page; absent on the last. */
  next?: string
}

export interface ListDirOptions {
  /** Entries per page (default DIR_LIST_DEFAULT_LIMIT). */
  limit?: number
  /** The `next` of the previous page: the listing continues after this name. */
  cursor?: string
  signal?: AbortSignal
  /** How long to look for peers holding a manifest that is not stored here. */
  timeoutMs?: number
}

/** Where a `getDir` or `fetchDir` is: finding the manifests, fetching the files' blobs, writing the tree. */
export interface DirProgress {
  phase: 'manifests' | 'fetch' | 'write'
  /** Files (and in the walk, manifests) done in this phase, and how many there are. */
  files: number
  totalFiles: number
  /** Bytes written (phase write); in the other phases 0 of the tree's total. */
  bytes: number
  totalBytes: number
}

export interface FetchDirOptions {
  signal?: AbortSignal
  onProgress?: (p: DirProgress) => void
  /** How long to look for peers holding a blob that is not stored here. */
  timeoutMs?: number
}

export interface GetDirOptions extends FetchDirOptions {
  /** Replace an existing destination (only once the new tree is complete). */
  force?: boolean
}

/** A tree (or one file) made local: how much it holds, how much had to come from peers. */
export interface FetchDirResult {
  uri: string
  kind: 'file' | 'dir'
  sha1: string
  files: number
  dirs: number
  bytes: number
  /** Blobs (files and manifests) fetched from peers now, and those already stored here. */
  fetched: number
  local: number
  evictions?: Eviction[]
}

export interface GetDirResult extends FetchDirResult {
  /** Where the tree (or file) was written, as given. */
  path: string
  /** An existing destination was replaced (with force). */
  replaced: boolean
}

/**
 * The members a ref records added files under: `{ "<entry>": "sha1://<hash>/<file name>" }`. The
 * entry is `r.entry` (see `refEntryNames`), else the file name, else the hash.
 */
export function refObjFor (results: Array<{ uri: string, sha1: string, name?: string, entry?: string }>): Record<string, string> {
  const obj: Record<string, string> = {}
  for (const r of results) obj[r.entry ?? r.name ?? r.sha1] = r.uri
  return obj
}

/**
 * The member name each file of one `add --ref` gets in the ref's object: its base name, unless
 * other files of the same command share that base name; then each of those is named by as many
 * trailing components of its absolute path as set it apart (`a/x.txt`, `b/x.txt`). The same file
 * given twice is one member. Every file keeps a member of its own: none is silently lost.
 */
export function refEntryNames (files: string[]): string[] {
  const parts = files.map((f) => path.resolve(f).split(path.sep).filter((p) => p !== ''))
  const byBase = new Map<string, Set<string>>()
  for (const p of parts) {
    const base = p[p.length - 1] ?? ''
    const group = byBase.get(base) ?? new Set<string>()
    group.add(p.join('/'))
    byBase.set(base, group)
  }
  return parts.map((p) => {
    const group = [...(byBase.get(p[p.length - 1] ?? '') ?? [])].map((full) => full.split('/'))
    const mine = p.join('/')
    const others = group.filter((g) => g.join('/') !== mine)
    for (let d = 1; ; d++) {
      const name = p.slice(-d).join('/')
      if (d >= p.length || others.every((o) => o.slice(-d).join('/') !== name)) return name
    }
  })
}

/**
 * The object a ref holds once `members` are merged into its current value `current` (undefined
 * when there is no such ref): members with new names are added, members with a name it has are
 * replaced, and every other member stays. Only an object can take members.
 */
export function mergeRefObj (key: string, current: unknown, members: Record<string, unknown>): Record<string, unknown> {
  if (current === undefined) return { ...members }
  if (current === null || typeof current !== 'object' || Array.isArray(current)) {
    const what = current === null ? 'null' : Array.isArray(current) ? 'an array' : `a ${typeof current}`
    throw new RefNotObjectError(`ref ${key} holds ${what}, not an object of files; files can be added only to an object (or a new ref)`)
  }
  return { ...(current as Record<string, unknown>), ...members }
}

/**
 * A meta filter's value (`GET /refs?meta.<field>=<value>`, `trove ref ls --meta field=value`):
 * JSON when it parses as JSON (`5`, `true`, `"5"`), else the plain string.
 */
export function metaFilterValue (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Refuses (RefNotObjectError) a ref that exists and holds something files cannot be added to. */
export async function assertRefTakesFiles (ops: Pick<TroveOps, 'getRef'>, key: string): Promise<void> {
  let current: unknown
  try {
    current = (await ops.getRef(key)).obj
  } catch (err) {
    if ((err as { code?: string }).code !== 'REF_NOT_FOUND') throw err
  }
  mergeRefObj(key, current, {})
}

/** Who writes are recorded as when no one is named: this process's user@host. */
export function defaultAuthor (): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`
  } catch {
    return `pid${process.pid}@${os.hostname()}`
  }
}

/**
 * What the CLI and the HTTP API need from Trove. The embedded node implements it directly; the
 * HTTP client implements it against a running node, so every command prints the same either way.
 * The API server serves it, plus `NodeInfo`.
 */
export interface TroveOps {
  /** Expiry sweep and eviction down to the low watermark; with dryRun, only what would go and why. */
  gc: (options?: { dryRun?: boolean }) => Promise<GcReport>
  addFile: (file: string, options?: AddOptions) => Promise<AddResult>
  /**
   * Stores files by path, as `addFile` does each, then records them all under one ref version
   * when asked. Through a running node, the node reads the files itself (`POST /blobs/import`,
   * which checks every path before it stores anything).
   */
  addFiles: (files: string[], options?: AddOptions) => Promise<AddResult[]>
  /**
   * Stores a local directory: every file (small ones into pack files), then one manifest per
   * directory, bottom-up; answers the root's `sha1dir://` URI and the counts. Pinned and recorded
   * under a ref when asked. Through a running node, the node reads the directory itself
   * (`POST /dirs/import`).
   */
  addDir: (dir: string, options?: AddDirOptions) => Promise<AddDirResult>
  /**
   * Stores content from a stream, as `addFile` stores a file: pinned, and recorded under a ref,
   * when asked. A ref that cannot take a file is refused before anything is stored.
   */
  addStream: (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: AddStreamOptions) => Promise<AddResult>
  /**
   * A blob's bytes, or a range of them (RangeNotSatisfiableError outside the blob). A running
   * node fetches a blob it does not hold from its peers: for a range of a large blob, only the
   * chunks that cover it (kept as a partial download a later full fetch resumes).
   */
  cat: (uri: string, range?: ReadRange, options?: CatOptions) => Promise<AsyncIterable<Uint8Array>>
  /**
   * A blob's size, whether it is stored here and who holds it, without fetching its content
   * (from the store, else from the peers' have answers).
   */
  blobInfo: (uri: string, options?: BlobInfoOptions) => Promise<BlobInfoReport>
  /**
   * Makes one blob local (from peers, when a network runs) and says its size; BlobNotFoundError
   * when no one has it. Progress is not reported over HTTP.
   */
  fetchBlob: (uri: string, options?: FetchOptions) => Promise<FetchedBlob>
  /**
   * Makes a blob local as fetchBlob does, then puts it at `dest` (an absolute file path) without
   * writing its bytes again where it can: a hard link to the stored file when `dest` is on the
   * same filesystem (the inode made read-only: an edit through `dest` would change the stored
   * blob), else a kernel copy (a reflink where the filesystem has them). `copy` asks for an
   * independent file always. The file is written under a temp name beside `dest` and renamed, so
   * `dest` never holds part of a blob; FileExistsError unless `force` when it exists.
   */
  exportBlob: (uri: string, dest: string, options?: ExportOptions) => Promise<ExportResult>
  setRef: (key: string, obj: unknown, meta?: RefMeta, options?: { by?: string }) => Promise<RefRecord>
  /**
   * Merges `members` into the object the ref holds (creating the ref when there is none), and the
   * given meta fields into its meta; a new version only when something changed. RefNotObjectError
   * when the ref holds something other than an object.
   */
  mergeRef: (key: string, members: Record<string, unknown>, meta?: RefMeta, options?: { by?: string }) => Promise<RefRecord>
  getRef: (key: string, options?: { version?: number }) => Promise<RefRecord>
  rmRef: (key: string, options?: { by?: string }) => Promise<{ key: string, version: number }>
  refHistory: (key: string) => Promise<HistoryEntry[]>
  listRefs: (options?: ListOptions) => Promise<ListPage>
  pin: (uri: string, options?: { by?: string }) => Promise<PinRecord>
  unpin: (uri: string) => Promise<{ sha1: string, unpinned: boolean }>
  /** Every pin, in blob order. */
  listPins: () => Promise<PinRecord[]>
  why: (uri: string) => Promise<WhyReport>
  status: () => Promise<StatusReport>
  verify: (options?: { onProgress?: (p: { checked: number, total: number }) => void }) => Promise<VerifyReport>
  /** Fetches many blobs from peers (a ref's files); failures are listed, not thrown. */
  fetchMany: (uris: string[], options?: { signal?: AbortSignal, timeoutMs?: number }) => Promise<FetchManyResult & { evictions?: Eviction[] }>
  /**
   * What a `sha1dir://` URI names: a directory's entries (paged) or the file itself. Manifests not
   * stored here are fetched from peers (verified, decoded strictly).
   */
  listDir: (uri: string, options?: ListDirOptions) => Promise<DirListing>
  /**
   * Makes a whole tree local (every manifest and file blob below the URI) in multi-blob fetches;
   * what is already stored is not fetched again, so a rerun resumes.
   */
  fetchDir: (uri: string, options?: FetchDirOptions) => Promise<FetchDirResult>
  /**
   * Makes the tree local, then writes it to `dest` by way of a temporary sibling renamed into
   * place once complete. An existing `dest` is refused (FileExistsError) unless `force`.
   */
  getDir: (uri: string, dest: string, options?: GetDirOptions) => Promise<GetDirResult>
  peers: () => Promise<PeerInfo[]>
  /**
   * Connects the running node to the peer at `addr` (a multiaddr ending in /p2p/<id>) and keeps
   * redialling it while the node runs. InvalidArgumentError naming the value for a malformed
   * address, PeerUnreachableError when the dial fails, NodeNotRunningError without a network.
   */
  connect: (addr: string) => Promise<PeerInfo>
  transfers: () => TransferInfo[] | Promise<TransferInfo[]>
  close: () => Promise<void>
}
