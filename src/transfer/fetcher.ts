import { Readable } from 'node:stream'
import { BlobNotFoundError, InvalidArgumentError, StorageFullError, isError } from '../errors.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import type { FetchManyOptions, FetchManyResult, FetchOptions, ReadRange, TransferInfo } from '../ops.js'
import { deadline } from '../protocols/deadline.js'
import type { FetchProtocol } from '../protocols/fetch/index.js'
import { resolveRange, type BlobInfo, type BlobStore } from '../store/blob-store.js'
import { parseManifest, type Manifest, type ManifestIndex } from '../store/manifests.js'
import { KeyedSerialQueue } from '../serial.js'
import { fetchSmallBatch, type BatchComponents } from './batch.js'
import { fetchChunked } from './chunked.js'
import { FetchCoalescer } from './coalesce.js'
import { CHUNKED_THRESHOLD, FAULT_BAD_DATA, FIND_TIMEOUT_MS, MAX_MANIFEST_BYTES, SMALL_BLOB_MAX } from './constants.js'
import { NoProvidersError, TransferFailedError } from './errors.js'
import { findCandidates, type Candidate, type FindComponents, type FindReport } from './find.js'
import { DownloadTap } from './follow.js'
import type { ProviderTable } from './providers.js'
import { readRemoteRange, type RangedComponents } from './ranged.js'
import { faultWeight, isBadData, type PeerScores } from './scores.js'

/**
 * Blobs fetchMany fetches one by one at once when they cannot go in a batch (large, or found via
 * the DHT): each is a provider search and a stream or a chunked download of its own.
 */
const MANY_CONCURRENCY = 4
/** Hashes fetchMany checks against the local index per look-up (a ref of 10,000 small blobs). */
const LOCAL_CHECK_BATCH = 1024
/**
 * A ranged read reuses the providers found this recently for the same blob instead of asking
 * again: the API answers a Range request by asking for the size first (blobInfo) and then reading,
 * and a reader of many small ranges (fsspec, h5py) asks one after another. A provider that has
 * gone meanwhile fails its chunk and the next one is used.
 */
const RECENT_FIND_MS = 2_000
/** Blobs whose recent provider search is kept (a handful are read at once). */
const RECENT_FIND_MAX = 64
/** Peers a NoProvidersError's message names (all of them are in its `peers`). */
const PEERS_IN_MESSAGE = 8
/** How often follow looks whether the fetch it was handed has registered its download yet (a store look-up away). */
const FOLLOW_POLL_MS = 1

/** The store as the fetcher uses it: look-ups, ingest of what peers send, a lease while fetching. */
export type FetchTarget = Pick<BlobStore, 'stat' | 'statMany' | 'put' | 'putBytes' | 'read' | 'readBytes' | 'adoptFile' | 'lease'>

export interface FetcherComponents {
  libp2p: FindComponents['libp2p']
  store: FetchTarget
  /** Records fetched manifests and keeps the resume state of chunked downloads. */
  manifests: Pick<ManifestIndex, 'recordFetched' | 'partials'>
  have: FindComponents['have']
  fetch: Pick<FetchProtocol, 'open'>
  providers: ProviderTable
  scores: PeerScores
  /** Reserves space for a download before it starts; supplied by space management when present. */
  reserve?: (bytes: number) => Promise<() => void>
  /** Where failures nobody awaits go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

/**
 * What a fetch came to, for whoever counts them (metrics): a single fetch, or the blobs one
 * fetchMany got in batches. `outcome` is "ok" or the error's code; `durationMs` of a single fetch only.
 */
export interface FetchEvent {
  path: 'single' | 'batch'
  outcome: string
  /** The blob of a single fetch. */
  sha1?: string
  /** Why a single fetch failed (the error's message). */
  message?: string
  blobs: number
  bytes: number
  durationMs?: number
}

export interface FetcherInit {
  dht?: boolean
  findTimeoutMs?: number
  /** Chunks are written with O_DIRECT where the filesystem allows (default true; see BlockWriter). */
  directWrites?: boolean
}

/**
 * Gets blobs from peers into the store: finds providers, then streams a small blob from one
 * provider (re-hashed on the way in) or a large one in verified chunks from several at once.
 * Concurrent requests for the same blob share one transfer.
 */
export class Fetcher {
  private readonly inflight = new Map<string, Promise<BlobInfo>>()
  /** The downloads in `inflight`, as readers that stream them meanwhile follow them (see follow). */
  private readonly taps = new Map<string, DownloadTap>()
  private readonly active = new Map<string, TransferInfo>()
  private readonly dht: boolean
  readonly findTimeoutMs: number
  private readonly directWrites: boolean
  private readonly log: Logger
  /** What the provider search and the batch path are given. */
  private readonly finding: FindComponents
  private readonly batching: BatchComponents
  /**
   * Whoever writes a blob's partial file and resume state holds this for the blob: a full chunked
   * download for its whole run, a ranged read for each chunk it takes (see readRemoteRange).
   */
  private readonly partialWriters = new KeyedSerialQueue()
  private readonly ranging: RangedComponents
  /** Chunks fetched by ranged reads since start (tests). */
  rangeChunksFetched = 0
  /** The last provider searches that found someone, by blob, for ranged reads (RECENT_FIND_MS). */
  private readonly recentFinds = new Map<string, { at: number, candidates: Candidate[] }>()
  /** Single fetches at the same time share batches (see FetchCoalescer). */
  private readonly coalescer = new FetchCoalescer(async (sha1s) => fetchSmallBatch(this.batching, sha1s))
  private readonly fetchListeners = new Set<(event: FetchEvent) => void>()

  constructor (private readonly c: FetcherComponents, init: FetcherInit = {}) {
    this.dht = init.dht ?? false
    this.directWrites = init.directWrites ?? true
    this.findTimeoutMs = init.findTimeoutMs ?? FIND_TIMEOUT_MS
    this.log = (c.logger ?? defaultLogger()).forComponent('fetcher')
    this.finding = { libp2p: c.libp2p, have: c.have, providers: c.providers, scores: c.scores, dht: this.dht, log: this.log }
    this.batching = { libp2p: c.libp2p, store: c.store, have: c.have, fetch: c.fetch, providers: c.providers, scores: c.scores, log: this.log }
    this.ranging = {
      partials: c.manifests.partials,
      store: c.store,
      fetch: c.fetch,
      scores: c.scores,
      reserve: c.reserve,
      exclusive: async (sha1, task) => this.partialWriters.run(sha1, task),
      chunksInFlight: new Map(),
      log: this.log
    }
  }

  /**
   * Who holds a blob and its size as they say (a peer's word: good for answering HEAD, never for
   * data, which is always re-hashed). By default one round of asking; with `wait`, like a fetch,
   * until someone answers or the find timeout passes (then NoProvidersError).
   */
  async providersOf (sha1: string, options: { signal?: AbortSignal, timeoutMs?: number, wait?: boolean } = {}): Promise<{ size?: number, providers: string[] }> {
    const timeoutMs = options.timeoutMs ?? this.findTimeoutMs
    const found = await this.find(sha1, timeoutMs, options.signal, options.wait !== true)
    if (found.candidates.length === 0) {
      if (options.wait === true) throw this.noProviders(sha1, found, timeoutMs)
      return { providers: [] }
    }
    const size = mostCommonSize(found.candidates)
    return { size, providers: found.candidates.filter((c) => c.size === size).map((c) => c.peer.toString()) }
  }

  /** A provider search whose finds are remembered a moment for ranged reads (see RECENT_FIND_MS). */
  private async find (sha1: string, timeoutMs: number, signal: AbortSignal | undefined, once = false): Promise<FindReport> {
    const found = await findCandidates(this.finding, sha1, { signal: deadline(timeoutMs, signal), once })
    signal?.throwIfAborted()
    if (found.candidates.length > 0) {
      this.recentFinds.delete(sha1)
      this.recentFinds.set(sha1, { at: Date.now(), candidates: found.candidates })
      // the oldest goes first: a Map iterates in insertion order
      if (this.recentFinds.size > RECENT_FIND_MAX) this.recentFinds.delete(this.recentFinds.keys().next().value as string)
    }
    return found
  }

  /** Providers found for `sha1` within RECENT_FIND_MS, least-faulted and not banned; else a fresh search. */
  private async recentOrFind (sha1: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<FindReport> {
    const recent = this.recentFinds.get(sha1)
    const usable = recent !== undefined && Date.now() - recent.at < RECENT_FIND_MS
      ? recent.candidates.filter((c) => !this.c.scores.isBanned(c.peer.toString()))
      : []
    if (usable.length > 0) return { candidates: usable, asked: usable.length, peers: usable.map((c) => c.peer.toString()), dhtProviders: 0, rounds: 0 }
    return await this.find(sha1, timeoutMs, signal)
  }

  /**
   * Bytes of a blob, or a range of them. A local blob is read from the store. A large remote
   * blob's range is fetched as the chunks that cover it, verified against the manifest and kept
   * as a partial download (readRemoteRange); a small one (no manifest, at most CHUNKED_THRESHOLD)
   * is fetched whole first. A range outside the blob fails with RangeNotSatisfiableError.
   * Fetching the first chunk happens before this returns, so a failure to get any is this call's.
   */
  async readRange (sha1: string, range: ReadRange, options: FetchOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const local = await this.c.store.stat(sha1)
    if (local !== undefined) return this.c.store.read(sha1, { ...range, info: local })
    const running = this.inflight.get(sha1)
    if (running !== undefined) {
      // a full fetch of it is under way: its chunks are not ours to read until it is stored
      await running
      return this.c.store.read(sha1, range)
    }
    const timeoutMs = options.timeoutMs ?? this.findTimeoutMs
    const found = await this.recentOrFind(sha1, timeoutMs, options.signal)
    if (found.candidates.length === 0) throw this.noProviders(sha1, found, timeoutMs)
    // each size claimed is tried in turn until one's manifest describes it (see byClaimedSize)
    const chosen = await this.eachClaim(sha1, found.candidates, options, async (candidates, size) => {
      // checked against the providers' size here, and below against the manifest's
      resolveRange(size, range)
      const manifestSha1 = size > CHUNKED_THRESHOLD ? mostOfferedManifest(this.order(candidates)) : undefined
      if (manifestSha1 === undefined) return { candidates }
      try {
        return { candidates, manifestSha1, manifest: await this.manifestOf(sha1, size, manifestSha1, options) }
      } catch (err) {
        if (isBadData(err)) this.blameOfferers(sha1, manifestSha1, candidates, err)
        throw err
      }
    })
    const { manifest, manifestSha1 } = chosen
    if (manifest === undefined || manifestSha1 === undefined) {
      await this.fetch(sha1, options)
      return this.c.store.read(sha1, range)
    }
    const candidates = chosen.candidates
    const { offset, length } = resolveRange(manifest.size, range)
    await this.c.manifests.partials.prepare(sha1)
    const chunks = readRemoteRange(this.ranging, {
      manifest,
      manifestSha1,
      candidates: this.order(candidates.filter((c) => c.manifest === undefined || c.manifest === manifestSha1)),
      offset,
      length,
      signal: options.signal,
      onChunkFetched: () => { this.rangeChunksFetched++ }
    })
    const first = await chunks.next()
    // a stream, as the store's reads are (the API sends it as one)
    return Readable.from((async function * () {
      if (first.done === true) return
      yield first.value
      yield * chunks
    })(), { objectMode: false })
  }

  private noProviders (sha1: string, found: FindReport, timeoutMs: number): NoProvidersError {
    const dht = this.dht ? `, DHT: ${found.dhtProviders} provider(s) found` : ', DHT: off'
    const shown = found.peers.slice(0, PEERS_IN_MESSAGE)
    const more = found.peers.length > shown.length ? ` and ${found.peers.length - shown.length} more` : ''
    const whom = found.peers.length === 0 ? ' (none to ask: no peer is connected, or every one is banned for faults)' : ` (${shown.join(', ')}${more})`
    const err = new NoProvidersError(`no peer has sha1://${sha1}: asked ${found.asked} peer(s)${whom}${dht} in ${timeoutMs} ms`)
    err.peers = found.peers
    return err
  }

  /** The manifest a provider offered for a blob, fetched (a small blob), bounded and checked to describe it. */
  private async manifestOf (sha1: string, size: number, manifestSha1: string, options: FetchOptions): Promise<Manifest> {
    const mInfo = await this.fetch(manifestSha1, { signal: options.signal, timeoutMs: options.timeoutMs })
    if (mInfo.size > MAX_MANIFEST_BYTES) throw new InvalidArgumentError(`manifest of sha1://${sha1} is ${mInfo.size} bytes, over the limit`)
    return parseManifest(await this.c.store.readBytes(manifestSha1), { sha1, size })
  }

  /**
   * Fetches many blobs: small ones in pipelined batches from connected peers, the rest (large,
   * or found only beyond them) one by one with bounded concurrency. Failures are reported per
   * blob, not thrown, so one missing blob does not lose the others.
   */
  async fetchMany (sha1s: string[], options: FetchManyOptions = {}): Promise<FetchManyResult> {
    const result: FetchManyResult = { fetched: 0, local: 0, failed: [] }
    const wanted: string[] = []
    const unique = [...new Set(sha1s)]
    // one index look-up per thousand hashes, not one each (a ref of 10,000 small blobs)
    for (let i = 0; i < unique.length; i += LOCAL_CHECK_BATCH) {
      const part = unique.slice(i, i + LOCAL_CHECK_BATCH)
      for (const [j, info] of (await this.c.store.statMany(part)).entries()) {
        if (info !== undefined) result.local++
        else wanted.push(part[j])
      }
    }
    const total = wanted.length
    let done = 0
    let batchBytes = 0
    const report = (): void => options.onProgress?.({ done, total })
    const rest = await fetchSmallBatch(this.batching, wanted, {
      signal: options.signal,
      onProgress: (p) => { done = p.done; batchBytes = p.bytes; report() }
    })
    result.fetched = wanted.length - rest.length
    if (result.fetched > 0) this.emit({ path: 'batch', outcome: 'ok', blobs: result.fetched, bytes: batchBytes })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < rest.length) {
        const sha1 = rest[next++]
        try {
          // fetchSmallBatch has just found these beyond a batch: straight to the single path
          await this.fetch(sha1, { signal: options.signal, timeoutMs: options.timeoutMs }, { alone: true })
          result.fetched++
        } catch (err) {
          if (options.signal?.aborted === true) throw err
          result.failed.push({ sha1, code: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message })
        }
        done++
        report()
      }
    }
    await Promise.all(Array.from({ length: Math.min(MANY_CONCURRENCY, rest.length) }, worker))
    return result
  }

  /** Told of every fetch's outcome (metrics); returns the function that stops it. */
  onFetch (listener: (event: FetchEvent) => void): () => void {
    this.fetchListeners.add(listener)
    return () => { this.fetchListeners.delete(listener) }
  }

  private emit (event: FetchEvent): void {
    for (const listener of this.fetchListeners) listener(event)
  }

  transfers (): TransferInfo[] {
    return [...this.active.values()].map((t) => ({ ...t, peers: [...t.peers] }))
  }

  async fetch (sha1: string, options: FetchOptions = {}, how: { alone?: boolean } = {}): Promise<BlobInfo> {
    const local = await this.c.store.stat(sha1)
    if (local !== undefined) return local
    let p = this.inflight.get(sha1)
    if (p === undefined) {
      const tap = new DownloadTap()
      this.taps.set(sha1, tap)
      p = this.run(sha1, options, how.alone === true).then((info) => {
        tap.end()
        return info
      }, (err: unknown) => {
        tap.end(err)
        throw err
      }).finally(() => {
        this.inflight.delete(sha1)
        this.taps.delete(sha1)
      })
      this.inflight.set(sha1, p)
    }
    return p
  }

  /**
   * The whole blob as a stream while `fetching` (a fetch of it, begun by the caller) runs: its
   * chunks in order as each is verified, the last once the blob hashed to its sha1 (DownloadTap).
   * Undefined when there is nothing to follow (a stored blob, a small one fetched whole, a
   * download past following): the caller waits for the fetch and reads the store. A fetch that
   * fails before its download begins (nobody has the blob) rejects this.
   */
  async follow (sha1: string, fetching: Promise<unknown>): Promise<{ stream: Readable, size: number } | undefined> {
    let settled = false
    const ended = fetching.then(() => { settled = true }, () => { settled = true })
    for (;;) {
      const tap = this.taps.get(sha1)
      if (tap !== undefined) {
        const begun = await Promise.race([tap.begun.then(() => true), fetching.then(() => false)])
        const stream = begun ? await tap.reader() : undefined
        return stream !== undefined && tap.size !== undefined ? { stream, size: tap.size } : undefined
      }
      // fetch() registers its download after one look at the store
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))])
      if (settled) {
        await fetching
        return undefined
      }
    }
  }

  private async run (sha1: string, options: FetchOptions, alone: boolean): Promise<BlobInfo> {
    const release = this.c.store.lease(sha1)
    const info: TransferInfo = { sha1, bytes: 0, peers: [], startedAt: new Date().toISOString(), state: 'finding' }
    this.active.set(sha1, info)
    const started = performance.now()
    let outcome = 'ok'
    let message: string | undefined
    let unreserve: (() => void) | undefined
    try {
      // a small blob a connected peer holds comes in a batch with whatever else is being fetched;
      // not one a search has just found to be large (a GET asks its size first): that would be
      // a round trip to learn what is known, before the first byte of a streamed read
      const recent = this.recentFinds.get(sha1)
      const knownLarge = recent !== undefined && Date.now() - recent.at < RECENT_FIND_MS && recent.candidates.every((c) => c.size > SMALL_BLOB_MAX)
      if (!alone && !knownLarge && await this.coalescer.get(sha1, options.signal)) {
        const stored = await this.c.store.stat(sha1)
        if (stored !== undefined) {
          info.size = info.bytes = stored.size
          info.state = 'done'
          options.onProgress?.({ bytes: stored.size, total: stored.size, peers: 1 })
          return stored
        }
      }
      // the providers a search found a moment ago (blobInfo before a GET) are asked no second time
      const found = await this.recentOrFind(sha1, options.timeoutMs ?? this.findTimeoutMs, options.signal)
      options.signal?.throwIfAborted()
      if (found.candidates.length === 0) throw this.noProviders(sha1, found, options.timeoutMs ?? this.findTimeoutMs)
      await this.eachClaim(sha1, found.candidates, options, async (candidates, size) => {
        info.size = size
        info.state = 'fetching'
        unreserve?.()
        unreserve = await this.c.reserve?.(size)
        const onBytes = (bytes: number, peers: number): void => {
          info.bytes = bytes
          options.onProgress?.({ bytes, total: size, peers })
        }
        if (size > CHUNKED_THRESHOLD && candidates.some((c) => c.manifest !== undefined)) {
          await this.chunkedByAnyManifest(sha1, size, candidates, info, onBytes, options)
        } else {
          await this.whole(sha1, candidates, info, onBytes, options)
        }
      })
      info.state = 'done'
      const stored = await this.c.store.stat(sha1)
      if (stored === undefined) throw new TransferFailedError(`sha1://${sha1} was fetched but is not in the store`)
      info.bytes = stored.size
      // the blob's hash proves its size: a provider that claimed another one claimed falsely
      for (const c of found.candidates) {
        if (c.size !== stored.size) this.c.scores.fault(c.peer.toString(), FAULT_BAD_DATA, `claimed ${c.size} bytes for sha1://${sha1}, which has ${stored.size}`)
      }
      return stored
    } catch (err) {
      info.state = 'failed'
      outcome = options.signal?.aborted === true ? 'ABORTED' : (err as { code?: string }).code ?? 'INTERNAL'
      message = (err as Error)?.message ?? String(err)
      // a retry searches afresh: the providers just found may be the ones that failed
      this.recentFinds.delete(sha1)
      throw err
    } finally {
      unreserve?.()
      release()
      this.active.delete(sha1)
      this.emit({ path: 'single', outcome, sha1, ...(message !== undefined ? { message } : {}), blobs: outcome === 'ok' ? 1 : 0, bytes: outcome === 'ok' ? info.bytes : 0, durationMs: performance.now() - started })
    }
  }

  /** One provider at a time, streamed straight into the store, re-hashed on the way. */
  private async whole (sha1: string, candidates: Candidate[], info: TransferInfo, onBytes: (b: number, p: number) => void, options: FetchOptions): Promise<void> {
    const failures: string[] = []
    for (const cand of this.order(candidates)) {
      const peer = cand.peer.toString()
      info.peers = [peer]
      let session
      try {
        session = await this.c.fetch.open(cand.peer, { signal: options.signal })
        await this.c.store.put(session.get({ sha1 }, { signal: options.signal }), {
          expectedSha1: sha1,
          // space was reserved for the whole blob before the download started
          reserved: this.c.reserve !== undefined,
          signal: options.signal,
          onProgress: (n) => onBytes(n, 1)
        })
        await session.close()
        return
      } catch (err) {
        session?.abort(err)
        if (options.signal?.aborted === true) throw err
        const e = err as Error
        // the provider table may be stale: a peer that no longer has the blob is not at fault
        if (!isError(err, BlobNotFoundError)) this.c.scores.fault(peer, faultWeight(err), `${e.name}: ${e.message}`)
        if (isError(err, StorageFullError)) throw err
        failures.push(`${peer}: ${e.name} (${e.message})`)
      }
    }
    throw new TransferFailedError(`every provider of sha1://${sha1} failed: ${failures.join('; ')}`)
  }

  /**
   * Chunked download by the manifest most providers offer (least-faulted first on a tie). A
   * manifest is only a peer's word: one that is invalid, or whose chunks all verify but together
   * do not hash to the blob, is false. Its offerers are penalised and left out, its resume state
   * is dropped (or every later attempt would resume into the same failure) and the next manifest
   * offered is tried; the download fails only when no candidate is left.
   */
  private async chunkedByAnyManifest (sha1: string, size: number, candidates: Candidate[], info: TransferInfo, onBytes: (b: number, p: number) => void, options: FetchOptions): Promise<void> {
    let pool = candidates
    for (;;) {
      const manifestSha1 = mostOfferedManifest(this.order(pool))
      if (manifestSha1 === undefined) {
        await this.whole(sha1, pool, info, onBytes, options)
        return
      }
      try {
        await this.chunked(sha1, size, manifestSha1, pool, info, onBytes, options)
        return
      } catch (err) {
        if (options.signal?.aborted === true || !isBadData(err)) throw err
        this.blameOfferers(sha1, manifestSha1, pool, err)
        await this.partialWriters.run(sha1, async () => this.c.manifests.partials.discard(sha1))
        pool = pool.filter((c) => c.manifest !== manifestSha1)
        if (pool.length === 0) throw err
      }
    }
  }

  private async chunked (sha1: string, size: number, manifestSha1: string, candidates: Candidate[], info: TransferInfo, onBytes: (b: number, p: number) => void, options: FetchOptions): Promise<void> {
    const manifest = await this.manifestOf(sha1, size, manifestSha1, options)
    const partialPath = await this.c.manifests.partials.prepare(sha1)
    // a peer that offered another manifest disputes this one: were this one false, its honest
    // chunks would fail to verify and it would be penalised for our mistake
    const agrees = (c: Candidate): boolean => c.size === size && (c.manifest === undefined || c.manifest === manifestSha1)
    const agreeing = candidates.filter(agrees)
    info.peers = agreeing.map((c) => c.peer.toString())
    // the partial file is this download's alone until it is adopted: a ranged read of the same
    // blob waits, and then finds the blob stored
    await this.partialWriters.run(sha1, async () => {
      await fetchChunked({ partials: this.c.manifests.partials, fetch: this.c.fetch, scores: this.c.scores, directWrites: this.directWrites, log: this.log }, partialPath, manifest, manifestSha1, this.order(agreeing), {
        signal: options.signal,
        onBytes,
        tap: this.taps.get(sha1),
        moreCandidates: async (exclude) => {
          const again = await findCandidates(this.finding, sha1, { signal: deadline(this.findTimeoutMs, options.signal), exclude })
          return again.candidates.filter(agrees)
        }
      })
      info.state = 'verifying'
      // fetchChunked verified every chunk and hashed the whole file in order as it arrived
      await this.c.store.adoptFile(partialPath, sha1, { hashed: true })
      await this.c.manifests.recordFetched(sha1, manifestSha1)
    })
  }

  /** Penalises the candidates that offered a manifest proved false by `err`. */
  private blameOfferers (sha1: string, manifestSha1: string, candidates: Candidate[], err: unknown): void {
    for (const c of candidates) {
      if (c.manifest === manifestSha1) this.c.scores.fault(c.peer.toString(), faultWeight(err), `false manifest sha1://${manifestSha1} for sha1://${sha1}`)
    }
  }

  /**
   * Runs `attempt` with the candidates of each size claimed in turn (byClaimedSize) until one
   * succeeds. A size is only a peer's word: a claim whose attempt fails gives way to the next, so
   * one or two liars cannot deny a fetch that an honest provider can serve. A caller's abort or
   * our own full disk ends it at once; when every claim fails, the failure of the only one, or a
   * TransferFailedError naming each.
   */
  private async eachClaim<T> (sha1: string, candidates: Candidate[], options: FetchOptions, attempt: (group: Candidate[], size: number) => Promise<T>): Promise<T> {
    const groups = byClaimedSize(this.order(candidates))
    const failures: Array<{ size: number, err: unknown }> = []
    for (const group of groups) {
      const size = group[0].size
      try {
        return await attempt(group, size)
      } catch (err) {
        if (options.signal?.aborted === true || isError(err, StorageFullError) || (err as { localWrite?: boolean }).localWrite === true) throw err
        failures.push({ size, err })
        if (groups.length > 1) this.log.debug(`providers claiming ${size} bytes for sha1://${sha1} failed`, err)
      }
    }
    if (failures.length === 1) throw failures[0].err
    const each = failures.map(({ size, err }) => `claiming ${size} bytes: ${(err as Error).name} (${(err as Error).message})`)
    throw new TransferFailedError(`no provider of sha1://${sha1} delivered; ${each.join('; ')}`)
  }

  /** Least-faulted providers first; ties in random order so load spreads. */
  private order (candidates: Candidate[]): Candidate[] {
    return candidates
      .map((c) => ({ c, f: this.c.scores.faults(c.peer.toString()), r: Math.random() }))
      .sort((a, b) => a.f - b.f || a.r - b.r)
      .map((x) => x.c)
  }
}

/** The manifest offered by the most candidates; on a tie, the one offered first in `ordered`. */
function mostOfferedManifest (ordered: Candidate[]): string | undefined {
  const counts = new Map<string, number>()
  for (const c of ordered) if (c.manifest !== undefined) counts.set(c.manifest, (counts.get(c.manifest) ?? 0) + 1)
  let best: string | undefined
  for (const [m, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = m
  return best
}

/**
 * Candidates grouped by the size they claim, the group claimed by most first; on a tie, the group
 * of the candidate first in `ordered` (least faulted). Each group keeps the order of `ordered`.
 */
function byClaimedSize (ordered: Candidate[]): Candidate[][] {
  const groups = new Map<number, Candidate[]>()
  for (const c of ordered) groups.set(c.size, [...(groups.get(c.size) ?? []), c])
  // a stable sort: equal counts keep the order their first candidates had
  return [...groups.values()].sort((a, b) => b.length - a.length)
}

function mostCommonSize (cands: Candidate[]): number {
  const counts = new Map<number, number>()
  for (const c of cands) counts.set(c.size, (counts.get(c.size) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])[0][0]
}
