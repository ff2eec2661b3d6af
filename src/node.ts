import os from 'node:os'
import path from 'node:path'
import { DEFAULT_CONFIG, ensureDataDir, layout, readConfig, resolveDataDir, type DataDirLayout, type TroveConfig } from './datadir.js'
import { openDb, type TroveDb } from './db.js'
import { BlobNotFoundError } from './errors.js'
import { refObjFor, type PeerInfo, type StartOptions, type TransferInfo, type FetchOptions, type FetchManyOptions, type FetchManyResult, type AddOptions, type AddResult, type ReadRange, type StatusReport, type TroveOps, type WhyReason, type WhyReport } from './ops.js'
import type { RefMeta } from './refs/meta.js'
import { RefStore, type HistoryEntry, type ListOptions, type ListPage, type PinRecord, type RefRecord } from './refs/ref-store.js'
import { BlobStore, type BlobInfo, type PutOptions, type PutResult } from './store/blob-store.js'
import type { PackFilesInit } from './store/packs.js'
import { verifyStore, type VerifyReport } from './store/verify.js'
import type { SpaceLimitsInput } from './space/limits.js'
import type { GcReport } from './space/report.js'
import { SpaceManager } from './space/space-manager.js'
// type only: libp2p is loaded by start(), so CLI commands that never start a node do not pay for it
import type { TroveNetwork } from './network.js'
import { CHUNK_SIZE, CHUNKED_THRESHOLD } from './transfer/constants.js'
import { encodeManifest, makeManifest } from './transfer/manifest.js'
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
}

/**
 * A Trove node: the blob store and the ref store of one data directory, composed. The network
 * and the HTTP API attach to it when the node is started.
 */
export class Trove implements TroveOps {
  readonly dataDir: string
  readonly layout: DataDirLayout
  readonly db: TroveDb
  readonly store: BlobStore
  readonly refs: RefStore
  readonly space: SpaceManager
  readonly config: TroveConfig
  readonly by: string
  private closed = false

  constructor (components: { dataDir: string, db: TroveDb, config: TroveConfig }, init: { durable?: boolean, by?: string, space?: SpaceLimitsInput, packs?: TroveOptions['packs'] } = {}) {
    this.dataDir = components.dataDir
    this.layout = layout(components.dataDir)
    this.db = components.db
    this.config = components.config
    this.store = new BlobStore({ db: this.db, layout: this.layout }, { durable: init.durable, packs: init.packs })
    this.refs = new RefStore({ db: this.db })
    this.space = new SpaceManager({ db: this.db, store: this.store, refs: this.refs, layout: this.layout }, {
      config: this.config,
      limits: init.space,
      log: (line) => { if (this.network !== undefined) process.stderr.write(`trove: ${line}\n`) }
    })
    this.reserveForFetch = async (bytes) => this.space.reserve(bytes)
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
    return this.recordManifest(await this.store.put(source, { chunkSize: CHUNK_SIZE, ...options }))
  }

  /**
   * A large blob gets a chunk manifest (itself a blob) so peers can fetch it in verified chunks
   * from several providers at once. The chunk hashes were computed during ingest.
   */
  private async recordManifest (result: PutResult): Promise<PutResult> {
    if (result.size <= CHUNKED_THRESHOLD || result.chunks === undefined) return result
    if (await this.db.manifests.get(result.sha1) !== undefined) return result
    const m = await this.store.putBytes(encodeManifest(makeManifest(result.sha1, result.size, CHUNK_SIZE, result.chunks)))
    await this.db.manifests.put(result.sha1, m.sha1)
    return result
  }

  async addFile (file: string, options: AddOptions = {}): Promise<AddResult> {
    const [result] = await this.addFiles([file], options)
    return result
  }

  /** Stores files, then (optionally) pins them and records them under one ref. */
  async addFiles (files: string[], options: AddOptions = {}): Promise<AddResult[]> {
    const results: AddResult[] = []
    for (const file of files) {
      const r = await this.recordManifest(await this.store.putFile(file, { signal: options.signal, onProgress: options.onProgress, chunkSize: CHUNK_SIZE, pinned: options.pin === true }))
      const name = path.basename(file)
      results.push({ uri: formatUri(r.sha1, name), sha1: r.sha1, size: r.size, added: r.added, name })
    }
    const by = options.by ?? this.by
    if (options.pin === true) {
      for (const r of results) await this.refs.pin(r.sha1, { by })
    }
    if (options.ref !== undefined) {
      await this.refs.set(options.ref, refObjFor(results), options.refMeta ?? {}, { by })
    }
    return results
  }

  async cat (uri: string, range: ReadRange = {}): Promise<AsyncIterable<Uint8Array>> {
    return this.store.read(toSha1(uri), range)
  }

  async setRef (key: string, obj: unknown, meta: RefMeta = {}, options: { by?: string } = {}): Promise<RefRecord> {
    return this.refs.set(key, obj, meta, { by: options.by ?? this.by })
  }

  async getRef (key: string, options: { version?: number } = {}): Promise<RefRecord> {
    return this.refs.get(key, options)
  }

  async rmRef (key: string, options: { by?: string } = {}): Promise<{ key: string, version: number }> {
    return this.refs.rm(key, { by: options.by ?? this.by })
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
    return report
  }

  async status (): Promise<StatusReport> {
    let refs = 0
    for await (const _ of this.db.refs.keys()) refs++
    let pins = 0
    for await (const _ of this.db.pins.keys()) pins++
    const report: StatusReport = { version: VERSION, dataDir: this.dataDir, mode: 'embedded', usage: this.store.getUsage(), refs, pins, packs: this.store.packs.totals() }
    report.space = await this.space.status()
    if (this.network !== undefined) {
      report.mode = 'node'
      report.network = {
        peerId: this.network.peerId.toString(),
        addresses: this.network.multiaddrs(),
        peers: this.network.libp2p.getPeers().length,
        dht: this.network.libp2p.services.dht !== undefined,
        bytesServed: this.network.fetchProtocol.bytesServed,
        knownProviders: this.network.providers.size
      }
      report.transfers = this.network.transfers()
    }
    return report
  }

  async verify (options: { onProgress?: (p: { checked: number, total: number }) => void } = {}): Promise<VerifyReport> {
    return verifyStore({ db: this.db, layout: this.layout, store: this.store }, options)
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
    const network = await TroveNetwork.start({ db: this.db, store: this.store, layout: this.layout, reserve: this.reserveForFetch }, {
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
    if (network.libp2p.services.dht !== undefined) void network.provideAll().catch(() => {})
  }

  /** Stops the network; in-flight writes finish or are cleaned up. Safe to call more than once. */
  async stop (): Promise<void> {
    const network = this.network
    if (network === undefined) return
    this.network = undefined
    this.space.setReplicaSource(undefined)
    await network.stop()
  }

  startOptions?: StartOptions
  /** The running network, while started. */
  network?: TroveNetwork
  /** Space reservation for downloads; space management sets it. */
  reserveForFetch?: (bytes: number) => Promise<() => void>

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

  /** Downloads in progress (empty while no network runs). */
  transfers (): TransferInfo[] {
    return this.network?.transfers() ?? []
  }

  /**
   * Makes many blobs local (a ref's files, a dataset's parts): small ones travel in pipelined
   * batches, so thousands of blobs cost a few round trips. Failures are listed per blob.
   */
  async fetchMany (uris: string[], options: FetchManyOptions = {}): Promise<FetchManyResult> {
    const sha1s = uris.map((u) => toSha1(u))
    if (this.network !== undefined) return this.network.fetchMany(sha1s, options)
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
  const db = await openDb(l.db, l.owner, { command: options.command })
  const trove = new Trove({ dataDir, db, config }, { durable: options.durable, by: options.by, space: options.space, packs: options.packs })
  try {
    await trove.open()
  } catch (err) {
    await trove.close().catch(() => {})
    throw err
  }
  return trove
}

function defaultAuthor (): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`
  } catch {
    return `pid${process.pid}@${os.hostname()}`
  }
}
