import path from 'node:path'
import { DEFAULT_CONFIG, assertNotDataDir, ensureDataDir, layout, readConfig, resolveDataDir, type DataDirLayout, type TroveConfig } from './datadir.js'
import { openDb, type TroveDb } from './db.js'
import { BlobNotFoundError, NodeNotRunningError } from './errors.js'
import { fetchTree } from './dirs/fetch-tree.js'
import { getDir } from './dirs/get-dir.js'
import { listDir } from './dirs/list.js'
import { isADirectory, resolveDirPath } from './dirs/resolve.js'
import { storeTree } from './dirs/store-source.js'
import { formatDirUri, isDirUri, parseDirUri } from './dirs/uri.js'
import type { TreeWriter } from './dirs/get-dir.js'
import { defaultLogger, type ComponentLogger, type Logger } from './logger.js'
import { addLocalDir, dirResult, type DirSink } from './dirs/add.js'
import { assertRefTakesFiles, defaultAuthor, evictionsOf, mergeRefObj, refEntryNames, refObjFor, type Eviction, type PeerInfo, type StartOptions, type TransferInfo, type FetchOptions, type FetchManyOptions, type FetchManyResult, type FetchedBlob, type AddDirOptions, type AddDirResult, type AddOptions, type AddResult, type AddStreamOptions, type ExportOptions, type ExportResult, type BlobInfoOptions, type BlobInfoReport, type CatOptions, type DirListing, type FetchDirOptions, type FetchDirResult, type GetDirOptions, type GetDirResult, type ListDirOptions, type NodeInfo, type ReadRange, type StatusReport, type TroveOps, type WhyReason, type WhyReport } from './ops.js'
import { assertKey } from './refs/keys.js'
import { normalizeMeta, type RefMeta } from './refs/meta.js'
import { RefStore, type HistoryEntry, type ListOptions, type ListPage, type PinRecord, type RefRecord } from './refs/ref-store.js'
import { BlobStore, type BlobInfo, type PutOptions, type PutResult } from './store/blob-store.js'
import { ManifestIndex } from './store/manifests.js'
import { exportStored } from './store/export.js'
import type { PackFilesInit } from './store/packs.js'
import type { VerifyReport } from './store/verify.js'
import type { SpaceLimitsInput } from './space/limits.js'
import type { GcReport } from './space/report.js'
import { SpaceManager } from './space/space-manager.js'
import { KeyedSerialQueue } from './serial.js'
// type only: libp2p is loaded by start(), so CLI commands that never start a node do not pay for it
import type { TroveNetwork } from './network.js'
import { SMALL_IO_MAX_BYTES, smallFileIo } from './store/small-io.js'
import { CHUNK_SIZE, CHUNKED_THRESHOLD } from './transfer/constants.js'
import { formatUri, toSha1 } from './uri.js'
import { VERSION } from './version.js'

export interface TroveOptions {
  /** Data directory; default `$TROVE_DATA`, else `~/.trove`. */
  dataDir?: string
  /** Create the data directory when it does not exist (the CLI requires `trove init` instead). */
  create?: boolean
  /** Shown to another process that finds the directory in use. */
  command?: string
  /** fsync blobs before they count as stored (default true). */
  durable?: boolean
  /** Written into ref history as the author; default user@host. */
  by?: string
  /** Space limits; override the data directory's config (src/space/limits.ts). */
  space?: SpaceLimitsInput
  /** Pack file settings (src/store/packs.ts); tests make packs small to exercise compaction. */
  packs?: Pick<PackFilesInit, 'targetBytes' | 'compactLiveRatio' | 'retireGraceMs'>
  /** Where background failures are reported (default: `defaultLogger()`, warnings on stderr). */
  logger?: ComponentLogger
}

/**
 * A Trove node: the blob store and the ref store of one data directory, composed. The network
 * and the HTTP API attach to it when the node is started.
 */
export class Trove implements TroveOps, NodeInfo {
  readonly dataDir: string
  readonly layout: DataDirLayout
  readonly db: TroveDb
  readonly store: BlobStore
  /** Chunk manifests of large blobs and the resume state of chunked downloads. */
  readonly manifests: ManifestIndex
  readonly refs: RefStore
  readonly space: SpaceManager
  readonly config: TroveConfig
  readonly by: string
  readonly logger: ComponentLogger
  /** What `start` was last called with. */
  startOptions?: StartOptions
  /** The running network, while started. */
  network?: TroveNetwork
  private closed = false
  /** Ref writes through this node, one at a time per key: a merge reads the ref and writes it back. */
  private readonly refWrites = new KeyedSerialQueue()
  private readonly log: Logger

  constructor (components: { dataDir: string, db: TroveDb, config: TroveConfig }, init: { durable?: boolean, by?: string, space?: SpaceLimitsInput, packs?: TroveOptions['packs'], logger?: ComponentLogger } = {}) {
    this.dataDir = components.dataDir
    this.layout = layout(components.dataDir)
    this.db = components.db
    this.config = components.config
    this.logger = init.logger ?? defaultLogger()
    this.log = this.logger.forComponent('node')
    this.store = new BlobStore({ db: this.db, layout: this.layout, logger: this.logger }, { durable: init.durable, packs: init.packs })
    this.manifests = new ManifestIndex({ db: this.db, store: this.store, layout: this.layout }, { chunkSize: CHUNK_SIZE, threshold: CHUNKED_THRESHOLD })
    this.refs = new RefStore({ db: this.db, logger: this.logger })
    this.space = new SpaceManager({ db: this.db, store: this.store, refs: this.refs, layout: this.layout, logger: this.logger }, {
      config: this.config,
      limits: init.space,
      log: (line) => { if (this.network !== undefined) process.stderr.write(`trove: ${line}\n`) }
    })
    this.by = init.by ?? defaultAuthor()
  }

  async open (): Promise<void> {
    await this.store.open()
    await this.space.open()
  }

  /** Expiry sweep, then eviction down to the low watermark (src/space); dryRun only reports. */
  async gc (options: { dryRun?: boolean } = {}): Promise<GcReport> {
    return this.space.gc({ dryRun: options.dryRun === true })
  }

  async add (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    // a large blob gets a chunk manifest, so peers can fetch it in verified chunks
    return this.manifests.recordFor(await this.store.put(source, { chunkSize: CHUNK_SIZE, ...options }))
  }

  async addFile (file: string, options: AddOptions = {}): Promise<AddResult> {
    const [result] = await this.addFiles([file], options)
    return result
  }

  /**
   * Stores files, pinning each as it is stored when asked, then records them all under one ref
   * (merged into what the ref holds: `mergeRef`). Each result lists the space runs that evicted
   * content while its file was stored; the run the writes call for once they are done (usage past
   * the high watermark) is made before this returns, and listed with the last file.
   */
  async addFiles (files: string[], options: AddOptions = {}): Promise<AddResult[]> {
    const by = options.by ?? this.by
    const entries = options.ref !== undefined ? refEntryNames(files) : undefined
    // a ref that cannot take files is refused before anything is stored
    if (options.ref !== undefined) await assertRefTakesFiles(this, assertKey(options.ref))
    const usageBefore = this.store.getUsage().bytes
    const results: AddResult[] = []
    for (const [i, file] of files.entries()) {
      const { value: r, evictions } = await this.withEvictions(async () => {
        const put = await this.manifests.recordFor(await this.store.putFile(file, { signal: options.signal, onProgress: progressOf(options, i), chunkSize: CHUNK_SIZE, pinned: options.pin === true }))
        if (options.pin === true) await this.refs.pin(put.sha1, { by })
        return put
      }, { settle: false })
      const name = path.basename(file)
      const result: AddResult = { uri: formatUri(r.sha1, name), sha1: r.sha1, size: r.size, added: r.added, name }
      if (entries !== undefined) result.entry = entries[i]
      if (evictions.length > 0) result.evictions = evictions
      results.push(result)
    }
    const { evictions } = await this.withEvictions(async () => {
      if (options.ref !== undefined) await this.mergeRef(options.ref, refObjFor(results), options.refMeta ?? {}, { by })
    }, { grewFrom: usageBefore, keep: () => results.map((r) => r.sha1) })
    const last = results[results.length - 1]
    if (evictions.length > 0 && last !== undefined) last.evictions = [...(last.evictions ?? []), ...evictions]
    return results
  }

  /**
   * Stores a local directory (src/dirs/add.ts): every file, then a manifest per directory,
   * bottom-up. With `pin` the root manifest is pinned (which keeps everything below it); with
   * `ref` the directory becomes the member `"<dir name>": "sha1dir://..."` of the ref's object,
   * merged into what the ref holds. A ref that cannot take members is refused before anything is
   * stored.
   */
  async addDir (dir: string, options: AddDirOptions = {}): Promise<AddDirResult> {
    const by = options.by ?? this.by
    await assertNotDataDir(dir, this.dataDir)
    if (options.ref !== undefined) await assertRefTakesFiles(this, assertKey(options.ref))
    const pinned = options.pin === true
    const sink: DirSink = {
      // small blobs into pack files; a manifest too large for that through the streaming path, with a chunk manifest when large
      putBytes: async (bytes, o) => bytes.byteLength <= SMALL_IO_MAX_BYTES
        ? this.store.putBytes(bytes, { signal: o.signal, pinned })
        : this.add([bytes], { signal: o.signal, pinned }),
      putFile: async (file, o) => this.manifests.recordFor(await this.store.putFile(file, { signal: o.signal, chunkSize: CHUNK_SIZE, pinned })),
      // the store's own small-file worker: a folder of small files is read in batches
      io: smallFileIo
    }
    const { value: result, evictions } = await this.withEvictions(async () => {
      const added = await addLocalDir(sink, dir, { followSymlinks: options.followSymlinks, signal: options.signal, onProgress: options.onProgress })
      const r = dirResult(dir, added)
      if (pinned) await this.refs.pin(added.sha1, { by })
      if (options.ref !== undefined) {
        r.entry = r.name
        await this.mergeRef(options.ref, refObjFor([r]), options.refMeta ?? {}, { by })
      }
      return r
    }, { keep: (r) => [r.sha1] })
    if (evictions.length > 0) result.evictions = evictions
    return result
  }

  /**
   * Runs `work` (a write or a fetch) and returns with its value the space runs that evicted
   * content while it ran. When the store grew (since `grewFrom`, default: the start of the work)
   * and usage is now above the high watermark, the run that calls for is made before this returns
   * rather than a moment later in the background, so this caller learns what its data cost; not
   * with `settle: false`, and not while the node is known to be over its limit with nothing left
   * to evict (the background runs back off then). A read of a stored blob never runs one. The
   * blobs `keep` names (what the work stored, the blob about to be served) are leased meanwhile:
   * making room for them must not evict them.
   */
  async withEvictions<T> (work: () => Promise<T>, options: { settle?: boolean, grewFrom?: number, keep?: (value: T) => string[] } = {}): Promise<{ value: T, evictions: Eviction[] }> {
    const grewFrom = options.grewFrom ?? this.store.getUsage().bytes
    const reports: GcReport[] = []
    const off = this.space.onRun((r) => { reports.push(r) })
    try {
      const value = await work()
      const grew = this.store.getUsage().bytes > grewFrom
      if (options.settle !== false && grew && this.space.aboveHighWatermark() && this.space.overLimitState === undefined) {
        const releases = (options.keep?.(value) ?? []).map((sha1) => this.store.lease(sha1))
        try {
          await this.space.gc({ trigger: 'watermark' })
        } catch (err) {
          // the work is done and stays done; the background run tries again
          this.log.warn('space run after a write failed', err)
        } finally {
          for (const release of releases) release()
        }
      }
      return { value, evictions: evictionsOf(reports) }
    } finally {
      off()
    }
  }

  async addStream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: AddStreamOptions = {}): Promise<AddResult> {
    const { name, ref } = options
    const by = { by: options.by ?? this.by }
    // a ref that cannot take a file (it holds an array, a string...) is refused before a byte is stored
    if (ref !== undefined) await assertRefTakesFiles(this, assertKey(ref))
    const { value: result, evictions } = await this.withEvictions(async () => {
      const put = await this.add(source, { signal: options.signal, onProgress: options.onProgress })
      const added: AddResult = { uri: formatUri(put.sha1, name), sha1: put.sha1, size: put.size, added: put.added }
      if (name !== undefined && name !== '') added.name = name
      if (options.pin === true) await this.pin(put.sha1, by)
      // merged into the ref, so one upload per file builds up a ref of several files
      if (ref !== undefined) await this.mergeRef(ref, refObjFor([added]), options.refMeta, by)
      return added
    }, { keep: (added) => [added.sha1] })
    if (evictions.length > 0) result.evictions = evictions
    return result
  }

  /**
   * A blob's bytes or a range of them. A running node gets a blob it does not hold from its peers:
   * a range of a large blob as only the chunks that cover it (kept as a partial download that a
   * later fetch resumes); the whole of a large blob streamed while it is fetched into the store,
   * its chunks in order as they are verified and the last once the blob hashed to its sha1
   * (Fetcher.follow); a small blob fetched whole first. Evictions the fetch caused are told when
   * they are known: before this returns, or (streaming) when the fetch ends.
   */
  async cat (uri: string, range: ReadRange = {}, options: CatOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    // a file inside a directory is its blob: the same reads, ranges and fetches
    if (isDirUri(uri)) return this.cat(await this.dirFile(uri, options), range, options)
    const sha1 = toSha1(uri)
    const network = this.network
    if (network === undefined) return this.store.read(sha1, range)
    if (range.offset === undefined && range.length === undefined) {
      const work = this.withEvictions(async () => this.ensureLocal(sha1, { timeoutMs: options.timeoutMs }), { keep: () => [sha1] })
      const followed = await network.follow(sha1, work)
      if (followed !== undefined) {
        options.onSize?.(followed.size)
        // a failed fetch fails the stream (its tap ends with the error); only evictions are left to tell
        void work.then(({ evictions }) => { if (evictions.length > 0) options.onEvictions?.(evictions) }, () => {})
        return followed.stream
      }
      const { value: info, evictions } = await work
      if (evictions.length > 0) options.onEvictions?.(evictions)
      options.onSize?.(info.size)
      return this.store.read(sha1)
    }
    return network.readRange(sha1, range, { timeoutMs: options.timeoutMs })
  }

  /** The blob a `sha1dir://` URI of a file names; IsADirectoryError when it names a directory. */
  private async dirFile (uri: string, options: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<string> {
    const parsed = parseDirUri(uri)
    const resolved = await resolveDirPath(this.tree(), parsed, options)
    if (resolved.kind === 'dir') throw isADirectory(formatDirUri(parsed.sha1, parsed.path))
    return resolved.sha1
  }

  /** The store and fetcher as the directory code reads them (src/dirs/store-source.ts). */
  private tree (): TreeWriter {
    return storeTree({
      store: this.store,
      ensureLocal: async (sha1, options) => this.ensureLocal(sha1, options),
      fetchMany: async (sha1s, options) => this.fetchMany(sha1s, options),
      log: this.log
    })
  }

  async listDir (uri: string, options: ListDirOptions = {}): Promise<DirListing> {
    const tree = this.tree()
    return listDir({ readManifest: tree.readManifest, hasMany: async (sha1s) => (await tree.sizesOf(sha1s)).map((s) => s !== undefined) }, uri, options)
  }

  async fetchDir (uri: string, options: FetchDirOptions = {}): Promise<FetchDirResult> {
    const local = await fetchTree(this.tree(), uri, options)
    local.release()
    return local.result
  }

  async getDir (uri: string, dest: string, options: GetDirOptions = {}): Promise<GetDirResult> {
    return getDir(this.tree(), uri, dest, options)
  }

  async blobInfo (uri: string, options: BlobInfoOptions = {}): Promise<BlobInfoReport> {
    const sha1 = toSha1(uri)
    const stored = await this.store.stat(sha1)
    const network = this.network
    if (stored !== undefined) return { sha1, size: stored.size, local: true, providers: network?.providers.get(sha1) ?? [] }
    if (network === undefined) {
      if (options.wait === true) throw new BlobNotFoundError(`blob not found: sha1://${sha1} (not stored here and no network is running)`)
      return { sha1, local: false, providers: [] }
    }
    return { sha1, local: false, ...await network.fetcher.providersOf(sha1, options) }
  }

  async setRef (key: string, obj: unknown, meta: RefMeta = {}, options: { by?: string } = {}): Promise<RefRecord> {
    return this.refWrites.run(key, async () => this.refs.set(key, obj, meta, { by: options.by ?? this.by }))
  }

  async mergeRef (key: string, members: Record<string, unknown>, meta: RefMeta = {}, options: { by?: string } = {}): Promise<RefRecord> {
    assertKey(key)
    return this.refWrites.run(key, async () => {
      const cur = await this.currentRef(key)
      const obj = mergeRefObj(key, cur?.obj, members)
      const merged = { ...(cur?.meta ?? {}), ...meta }
      // the same files added again: nothing to record, and no version that changes nothing
      if (cur !== undefined && JSON.stringify(obj) === JSON.stringify(cur.obj) && JSON.stringify(normalizeMeta(merged)) === JSON.stringify(cur.meta)) return cur
      return this.refs.set(key, obj, merged, { by: options.by ?? this.by })
    })
  }

  /** A ref's current version, undefined when there is none. */
  private async currentRef (key: string): Promise<RefRecord | undefined> {
    return this.refs.get(key).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'REF_NOT_FOUND') return undefined
      throw err
    })
  }

  async getRef (key: string, options: { version?: number } = {}): Promise<RefRecord> {
    return this.refs.get(key, options)
  }

  async rmRef (key: string, options: { by?: string } = {}): Promise<{ key: string, version: number }> {
    return this.refWrites.run(key, async () => this.refs.rm(key, { by: options.by ?? this.by }))
  }

  async refHistory (key: string): Promise<HistoryEntry[]> {
    return this.refs.history(key)
  }

  async listRefs (options: ListOptions = {}): Promise<ListPage> {
    return this.refs.list(options)
  }

  async pin (uri: string, options: { by?: string } = {}): Promise<PinRecord> {
    const sha1 = toSha1(uri)
    if (!await this.store.has(sha1)) throw new BlobNotFoundError(`cannot pin sha1://${sha1}: blob is not stored here`)
    return this.refs.pin(sha1, { by: options.by ?? this.by })
  }

  async unpin (uri: string): Promise<{ sha1: string, unpinned: boolean }> {
    const sha1 = toSha1(uri)
    return { sha1, unpinned: await this.refs.unpin(sha1) }
  }

  async listPins (): Promise<PinRecord[]> {
    const pins: PinRecord[] = []
    for await (const p of this.refs.pins()) pins.push(p)
    return pins
  }

  async why (uri: string): Promise<WhyReport> {
    const sha1 = toSha1(uri)
    const info = await this.store.stat(sha1)
    const pin = await this.refs.getPin(sha1)
    const holders = await this.refs.holders(sha1)
    const reasons: WhyReason[] = []
    if (pin !== undefined) reasons.push({ kind: 'pin', since: pin.pinnedAt })
    for (const h of holders.sort((a, b) => b.priority - a.priority || a.key.localeCompare(b.key))) {
      reasons.push({ kind: 'ref', key: h.key, priority: h.priority, pin: h.pin })
    }
    const report: WhyReport = {
      uri: formatUri(sha1),
      sha1,
      local: info !== undefined,
      kept: reasons.length > 0,
      pinned: pin !== undefined || holders.some((h) => h.pin),
      reasons
    }
    if (info !== undefined) report.size = info.size
    if (holders.length > 0) report.priority = Math.max(...holders.map((h) => h.priority))
    const space = await this.space.explain(sha1)
    for (const v of space.via) {
      reasons.push(v.pinned === true ? { kind: 'link', via: v.path, pin: true } : { kind: 'link', via: v.path, key: v.key, priority: v.priority, pin: v.pin })
      if (v.pinned === true || v.pin === true) report.pinned = true
      if (v.priority !== undefined && v.pin !== true) report.priority = Math.max(report.priority ?? v.priority, v.priority)
    }
    // leases, the grace period and minCopies keep a blob for now, not for good: they are in `space`
    report.kept = reasons.length > 0
    report.space = space
    const place = await this.space.placeInDir(sha1)
    if (place !== undefined) report.dir = formatDirUri(place.root, place.path)
    return report
  }

  async status (): Promise<StatusReport> {
    const refs = await this.refs.count()
    const pins = await this.refs.pinCount()
    const report: StatusReport = { version: VERSION, dataDir: this.dataDir, mode: 'embedded', usage: this.store.getUsage(), refs, pins, packs: this.store.packTotals() }
    report.space = await this.space.status()
    if (this.network !== undefined) {
      report.mode = 'node'
      report.network = this.network.status()
      report.transfers = this.network.transfers()
    }
    return report
  }

  async verify (options: { onProgress?: (p: { checked: number, total: number }) => void } = {}): Promise<VerifyReport> {
    return this.store.verify(options)
  }

  /**
   * Makes a blob local: returns at once when it is stored here, otherwise fetches it from peers
   * (once the network is attached) and fails with BlobNotFoundError when no one has it.
   */
  async ensureLocal (uri: string, options: FetchOptions = {}): Promise<BlobInfo> {
    const sha1 = toSha1(uri)
    // the fetcher looks in the store first itself: one index look-up per call, not two
    if (this.network !== undefined) return this.network.fetch(sha1, options)
    const info = await this.store.stat(sha1)
    if (info !== undefined) return info
    throw new BlobNotFoundError(`blob not found: sha1://${sha1} (not stored here and no network is running)`)
  }

  async fetchBlob (uri: string, options: FetchOptions = {}): Promise<FetchedBlob> {
    const sha1 = toSha1(uri)
    // the blob is leased while room is made for it: it is about to be read
    const { value: info, evictions } = await this.withEvictions(async () => this.ensureLocal(sha1, options), { keep: () => [sha1] })
    const fetched: FetchedBlob = { sha1, size: info.size }
    if (evictions.length > 0) fetched.evictions = evictions
    return fetched
  }

  async exportBlob (uri: string, dest: string, options: ExportOptions = {}): Promise<ExportResult> {
    const sha1 = toSha1(uri)
    const fetched = await this.fetchBlob(sha1, options)
    // leased from the look-up to the link: eviction must not take the file from under it
    const release = this.store.lease(sha1)
    try {
      const placed = await exportStored(this.store, sha1, dest, options)
      return { ...fetched, size: placed.size, path: dest, how: placed.how }
    } finally {
      release()
    }
  }

  /**
   * Brings up the network (libp2p, protocols, discovery). The HTTP API is started separately by
   * `trove start` (src/cli/commands/start.ts) around this call.
   */
  async start (options: StartOptions = {}): Promise<void> {
    if (this.network !== undefined) return
    this.startOptions = options
    if (options.maxSize !== undefined) this.space.configure({ maxSize: options.maxSize })
    this.space.startBackground()
    const cfg = this.config
    const { TroveNetwork } = await import('./network.js')
    // downloads reserve their space before they write, so a fetch cannot overrun the limits
    const reserve = async (bytes: number): Promise<() => void> => this.space.reserve(bytes)
    const network = await TroveNetwork.start({ store: this.store, manifests: this.manifests, layout: this.layout, reserve, logger: this.logger }, {
      listen: options.listen ?? cfg.listen ?? DEFAULT_CONFIG.listen ?? [],
      bootstrap: options.bootstrap ?? cfg.bootstrap ?? [],
      mdns: options.mdns ?? cfg.mdns ?? true,
      dht: options.dht ?? cfg.dht ?? false,
      swarmKey: options.swarmKey ?? (cfg.swarmKey as string | undefined),
      allowPeers: options.allowPeers ?? (cfg.allowPeers as string[] | undefined),
      streamWindow: options.streamWindow,
      directWrites: options.directWrites,
      encryption: options.encryption,
      findTimeoutMs: options.findTimeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      announceBatchMs: options.announceBatchMs
    })
    this.network = network
    // eviction prefers what peers are known to hold, and minCopies counts those copies
    this.space.setReplicaSource({ replicas: (sha1) => network.providers.replicas(sha1) })
    // in the background; provideAll logs its own failure
    if (network.status().dht) void network.provideAll()
  }

  /** Stops the network; in-flight writes finish or are cleaned up. Safe to call more than once. */
  async stop (): Promise<void> {
    const network = this.network
    if (network === undefined) return
    this.network = undefined
    this.space.setReplicaSource(undefined)
    await network.stop()
  }

  /** This node's libp2p peer id (while started). */
  get peerId (): string | undefined {
    return this.network?.peerId.toString()
  }

  /** Addresses other nodes can dial (while started). */
  multiaddrs (): string[] {
    return this.network?.multiaddrs() ?? []
  }

  /** Connected peers (empty while no network runs). */
  async peers (): Promise<PeerInfo[]> {
    return this.network?.peers() ?? []
  }

  /** Connects to a peer at run time, remembered for redial (TroveOps.connect). */
  async connect (addr: string): Promise<PeerInfo> {
    // checked first, so a typo is named as such whether a node runs or not
    const { parsePeerAddress } = await import('./net/addresses.js')
    parsePeerAddress(addr, 'connect: address')
    if (this.network === undefined) throw new NodeNotRunningError(`connect needs a running node: no node is running on ${this.dataDir} (start one with "trove start")`)
    return this.network.connect(addr)
  }

  /** Downloads in progress (empty while no network runs). */
  transfers (): TransferInfo[] {
    return this.network?.transfers() ?? []
  }

  /**
   * Makes many blobs local (a ref's files, a dataset's parts): small ones travel in pipelined
   * batches, so thousands of blobs cost a few round trips. Failures are listed per blob.
   */
  async fetchMany (uris: string[], options: FetchManyOptions = {}): Promise<FetchManyResult & { evictions?: Eviction[] }> {
    const sha1s = uris.map((u) => toSha1(u))
    const network = this.network
    if (network !== undefined) {
      const { value, evictions } = await this.withEvictions(async () => network.fetchMany(sha1s, options))
      return evictions.length > 0 ? { ...value, evictions } : value
    }
    const result: FetchManyResult = { fetched: 0, local: 0, failed: [] }
    for (const sha1 of new Set(sha1s)) {
      if (await this.store.has(sha1)) result.local++
      else result.failed.push({ sha1, code: 'BLOB_NOT_FOUND', message: `sha1://${sha1} is not stored here and no network is running` })
    }
    return result
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.stop()
    await this.space.close()
    await this.refs.close()
    await this.store.close()
    await this.db.close()
  }
}

/** Opens (and with `create`, initializes) a data directory and returns the node on it. */
export async function createTrove (options: TroveOptions = {}): Promise<Trove> {
  const dataDir = resolveDataDir(options.dataDir)
  await ensureDataDir(dataDir, { create: options.create })
  const config = await readConfig(dataDir)
  const l = layout(dataDir)
  const db = await openDb(l.db, l.owner, { command: options.command, logger: options.logger })
  const trove = new Trove({ dataDir, db, config }, { durable: options.durable, by: options.by, space: options.space, packs: options.packs, logger: options.logger })
  try {
    await trove.open()
  } catch (err) {
    // the open's own error is the one to report; closing what did open is only cleanup
    await trove.close().catch(() => {})
    throw err
  }
  return trove
}

/** `addFiles`' progress callback for its file number `i`. */
function progressOf (options: AddOptions, i: number): ((bytes: number) => void) | undefined {
  const onProgress = options.onProgress
  return onProgress === undefined ? undefined : (bytes) => { onProgress(bytes, i) }
}
