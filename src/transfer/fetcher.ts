import { BlobNotFoundError, InvalidArgumentError, StorageFullError, isError } from '../errors.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import type { FetchManyOptions, FetchManyResult, FetchOptions, TransferInfo } from '../ops.js'
import { deadline } from '../protocols/deadline.js'
import type { FetchProtocol } from '../protocols/fetch/index.js'
import type { BlobInfo, BlobStore } from '../store/blob-store.js'
import { parseManifest, type ManifestIndex } from '../store/manifests.js'
import { fetchSmallBatch, type BatchComponents } from './batch.js'
import { fetchChunked } from './chunked.js'
import { FetchCoalescer } from './coalesce.js'
import { CHUNKED_THRESHOLD, FIND_TIMEOUT_MS, MAX_MANIFEST_BYTES } from './constants.js'
import { NoProvidersError, TransferFailedError } from './errors.js'
import { findCandidates, type Candidate, type FindComponents } from './find.js'
import type { ProviderTable } from './providers.js'
import { faultWeight, isBadData, type PeerScores } from './scores.js'

/**
 * Blobs fetchMany fetches one by one at once when they cannot go in a batch (large, or found via
 * the DHT): each is a provider search and a stream or a chunked download of its own.
 */
const MANY_CONCURRENCY = 4
/** Hashes fetchMany checks against the local index per look-up (a ref of 10,000 small blobs). */
const LOCAL_CHECK_BATCH = 1024

/** The store as the fetcher uses it: look-ups, ingest of what peers send, a lease while fetching. */
export type FetchTarget = Pick<BlobStore, 'stat' | 'statMany' | 'put' | 'putBytes' | 'readBytes' | 'adoptFile' | 'lease'>

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
  private readonly active = new Map<string, TransferInfo>()
  private readonly dht: boolean
  readonly findTimeoutMs: number
  private readonly directWrites: boolean
  private readonly log: Logger
  /** What the provider search and the batch path are given. */
  private readonly finding: FindComponents
  private readonly batching: BatchComponents
  /** Single fetches at the same time share batches (see FetchCoalescer). */
  private readonly coalescer = new FetchCoalescer(async (sha1s) => fetchSmallBatch(this.batching, sha1s))

  constructor (private readonly c: FetcherComponents, init: FetcherInit = {}) {
    this.dht = init.dht ?? false
    this.directWrites = init.directWrites ?? true
    this.findTimeoutMs = init.findTimeoutMs ?? FIND_TIMEOUT_MS
    this.log = (c.logger ?? defaultLogger()).forComponent('fetcher')
    this.finding = { libp2p: c.libp2p, have: c.have, providers: c.providers, scores: c.scores, dht: this.dht, log: this.log }
    this.batching = { libp2p: c.libp2p, store: c.store, have: c.have, fetch: c.fetch, providers: c.providers, scores: c.scores, log: this.log }
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
    const report = (): void => options.onProgress?.({ done, total })
    const rest = await fetchSmallBatch(this.batching, wanted, {
      signal: options.signal,
      onProgress: (p) => { done = p.done; report() }
    })
    result.fetched = wanted.length - rest.length
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

  transfers (): TransferInfo[] {
    return [...this.active.values()].map((t) => ({ ...t, peers: [...t.peers] }))
  }

  async fetch (sha1: string, options: FetchOptions = {}, how: { alone?: boolean } = {}): Promise<BlobInfo> {
    const local = await this.c.store.stat(sha1)
    if (local !== undefined) return local
    let p = this.inflight.get(sha1)
    if (p === undefined) {
      p = this.run(sha1, options, how.alone === true).finally(() => this.inflight.delete(sha1))
      this.inflight.set(sha1, p)
    }
    return p
  }

  private async run (sha1: string, options: FetchOptions, alone: boolean): Promise<BlobInfo> {
    const release = this.c.store.lease(sha1)
    const info: TransferInfo = { sha1, bytes: 0, peers: [], startedAt: new Date().toISOString(), state: 'finding' }
    this.active.set(sha1, info)
    let unreserve: (() => void) | undefined
    try {
      // a small blob a connected peer holds comes in a batch with whatever else is being fetched
      if (!alone && await this.coalescer.get(sha1, options.signal)) {
        const stored = await this.c.store.stat(sha1)
        if (stored !== undefined) {
          info.size = info.bytes = stored.size
          info.state = 'done'
          options.onProgress?.({ bytes: stored.size, total: stored.size, peers: 1 })
          return stored
        }
      }
      const findSignal = deadline(options.timeoutMs ?? this.findTimeoutMs, options.signal)
      const found = await findCandidates(this.finding, sha1, { signal: findSignal })
      options.signal?.throwIfAborted()
      if (found.candidates.length === 0) {
        const dht = this.dht ? `, DHT: ${found.dhtProviders} provider(s) found` : ', DHT: off'
        throw new NoProvidersError(`no peer has sha1://${sha1}: asked ${found.asked} peer(s)${dht} in ${options.timeoutMs ?? this.findTimeoutMs} ms`)
      }
      const size = mostCommonSize(found.candidates)
      const candidates = found.candidates.filter((c) => c.size === size)
      info.size = size
      info.state = 'fetching'
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
      info.state = 'done'
      const stored = await this.c.store.stat(sha1)
      if (stored === undefined) throw new TransferFailedError(`sha1://${sha1} was fetched but is not in the store`)
      return stored
    } catch (err) {
      info.state = 'failed'
      throw err
    } finally {
      unreserve?.()
      release()
      this.active.delete(sha1)
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
        for (const c of pool) {
          if (c.manifest === manifestSha1) this.c.scores.fault(c.peer.toString(), faultWeight(err), `false manifest sha1://${manifestSha1} for sha1://${sha1}`)
        }
        await this.c.manifests.partials.discard(sha1)
        pool = pool.filter((c) => c.manifest !== manifestSha1)
        if (pool.length === 0) throw err
      }
    }
  }

  private async chunked (sha1: string, size: number, manifestSha1: string, candidates: Candidate[], info: TransferInfo, onBytes: (b: number, p: number) => void, options: FetchOptions): Promise<void> {
    const mInfo = await this.fetch(manifestSha1, { signal: options.signal, timeoutMs: options.timeoutMs })
    if (mInfo.size > MAX_MANIFEST_BYTES) throw new InvalidArgumentError(`manifest of sha1://${sha1} is ${mInfo.size} bytes, over the limit`)
    const manifest = parseManifest(await this.c.store.readBytes(manifestSha1), { sha1, size })
    const partialPath = await this.c.manifests.partials.prepare(sha1)
    // a peer that offered another manifest disputes this one: were this one false, its honest
    // chunks would fail to verify and it would be penalised for our mistake
    const agrees = (c: Candidate): boolean => c.size === size && (c.manifest === undefined || c.manifest === manifestSha1)
    const agreeing = candidates.filter(agrees)
    info.peers = agreeing.map((c) => c.peer.toString())
    await fetchChunked({ partials: this.c.manifests.partials, fetch: this.c.fetch, scores: this.c.scores, directWrites: this.directWrites, log: this.log }, partialPath, manifest, manifestSha1, this.order(agreeing), {
      signal: options.signal,
      onBytes,
      moreCandidates: async (exclude) => {
        const again = await findCandidates(this.finding, sha1, { signal: deadline(this.findTimeoutMs, options.signal), exclude })
        return again.candidates.filter(agrees)
      }
    })
    info.state = 'verifying'
    // fetchChunked verified every chunk and hashed the whole file in order as it arrived
    await this.c.store.adoptFile(partialPath, sha1, { hashed: true })
    await this.c.manifests.recordFetched(sha1, manifestSha1)
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

function mostCommonSize (cands: Candidate[]): number {
  const counts = new Map<number, number>()
  for (const c of cands) counts.set(c.size, (counts.get(c.size) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])[0][0]
}
