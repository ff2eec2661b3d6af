import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Trove } from '../node.js'
import type { TroveNetwork } from '../network.js'
import { FETCH_SECONDS_BUCKETS, GC_SECONDS_BUCKETS, METRIC_PREFIX } from './constants.js'

/** What the metrics read of a node: its store, space and refs, and its network while one runs. */
export type MetricsSource = Pick<Trove, 'store' | 'space' | 'refs' | 'network'>

/** Failed fetches remembered for the dashboard: enough to see a pattern, little memory. */
const RECENT_FAILURES = 50

/** A fetch that failed: which blob, the error's code and message, when. */
export interface FetchFailure {
  sha1: string
  code: string
  message: string
  at: string
}

/** The classes space management sorts stored bytes into (SpaceStatus.classes). */
const CLASSES = ['pinned', 'referenced', 'unreferenced', 'expired', 'leased', 'pending'] as const

/**
 * Prometheus metrics of one node, in a registry of its own (several nodes run in one test
 * process). Counters are fed by the events the parts already emit (the store's `added`, space's
 * run log, the fetcher's outcomes, the peer scores' faults, the API's responses); gauges are read
 * on each scrape from the same reports `trove status` uses, so nothing is written on a hot path
 * beyond a counter's increment.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  private readonly source: MetricsSource | undefined
  private readonly unsubscribe: Array<() => void> = []
  /** The network whose fetcher and scores are subscribed to; a restarted network is subscribed anew. */
  private network: TroveNetwork | undefined
  private networkOff: Array<() => void> = []
  /** What earlier networks served (their counters restart with each network). */
  private readonly servedBefore = { bytes: 0, blobs: 0 }
  private readonly totalsSeen = new Map<Counter, number>()
  /** The last failed fetches, newest first, for the dashboard's transfers page. */
  private readonly failures: FetchFailure[] = []

  private readonly apiRequests: Counter<'method' | 'route' | 'status'>
  private readonly blobsAdded: Counter
  private readonly bytesAdded: Counter
  private readonly blobsFetched: Counter<'path'>
  private readonly bytesFetched: Counter<'path'>
  private readonly fetches: Counter<'outcome'>
  private readonly fetchSeconds: Histogram
  private readonly blobsEvicted: Counter
  private readonly bytesEvicted: Counter
  private readonly gcRuns: Counter<'trigger'>
  private readonly gcSeconds: Histogram
  private readonly peerFaults: Counter
  private readonly peerBans: Counter
  private readonly bytesServed: Counter
  private readonly blobsServed: Counter
  private readonly gauges: Record<'storeBytes' | 'storeBlobs' | 'usage' | 'limits' | 'diskFree' | 'peers' | 'transfers' | 'packFiles' | 'packBytes' | 'refs' | 'pins' | 'gcRunning', Gauge<string>>

  constructor (components: { source?: MetricsSource } = {}) {
    this.source = components.source
    const registers = [this.registry]
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
      new Counter({ name: METRIC_PREFIX + name, help, labelNames, registers })
    const gauge = (name: string, help: string, labelNames: string[] = []): Gauge<string> =>
      new Gauge({ name: METRIC_PREFIX + name, help, labelNames, registers })

    this.apiRequests = counter('api_requests_total', 'HTTP API requests answered, by method, route template and status', ['method', 'route', 'status'])
    this.blobsAdded = counter('blobs_added_total', 'Blobs newly stored (added here or fetched from peers; content already stored is not counted)')
    this.bytesAdded = counter('added_bytes_total', 'Bytes of blobs newly stored')
    this.blobsFetched = counter('blobs_fetched_total', 'Blobs fetched from peers, by path (single fetch or batch of small blobs)', ['path'])
    this.bytesFetched = counter('fetched_bytes_total', 'Bytes of blobs fetched from peers, by path', ['path'])
    this.fetches = counter('fetches_total', 'Single fetches from peers by outcome: ok, or the error code that ended them', ['outcome'])
    this.fetchSeconds = new Histogram({ name: METRIC_PREFIX + 'fetch_duration_seconds', help: 'Duration of single fetches from peers (finding providers included)', buckets: FETCH_SECONDS_BUCKETS, registers })
    this.blobsEvicted = counter('blobs_evicted_total', 'Blobs evicted by space management')
    this.bytesEvicted = counter('evicted_bytes_total', 'Bytes of blobs evicted by space management')
    this.gcRuns = counter('gc_runs_total', 'Space management runs (dry runs excluded), by trigger', ['trigger'])
    this.gcSeconds = new Histogram({ name: METRIC_PREFIX + 'gc_run_duration_seconds', help: 'Duration of space management runs (dry runs excluded)', buckets: GC_SECONDS_BUCKETS, registers })
    this.peerFaults = counter('peer_faults_total', 'Faults recorded against peers (bad data, protocol errors, stalls)')
    this.peerBans = counter('peer_bans_total', 'Bans of peers whose faults passed the threshold')
    this.bytesServed = counter('served_bytes_total', 'Blob bytes sent to peers')
    this.blobsServed = counter('blobs_served_total', 'Blob answers (whole blobs or ranges) sent to peers')
    this.gauges = {
      storeBytes: gauge('store_bytes', 'Stored blob bytes by space class (leased, expired and pending overlap the others)', ['class']),
      storeBlobs: gauge('store_blobs', 'Stored blobs by space class', ['class']),
      usage: gauge('usage_bytes', 'Bytes counted against the size limit, by part (blobs, db, reserved, total)', ['part']),
      limits: gauge('limit_bytes', 'Size limit and the thresholds derived from it (max, high, low, hard); absent without a limit', ['limit']),
      diskFree: gauge('disk_free_bytes', 'Free bytes on the data directory\'s volume'),
      peers: gauge('peers', 'Connected peers'),
      transfers: gauge('transfers_in_flight', 'Fetches from peers in progress'),
      packFiles: gauge('pack_files', 'Pack files of small blobs'),
      packBytes: gauge('pack_bytes', 'Bytes of pack files, by kind (disk, live)', ['kind']),
      refs: gauge('refs', 'Refs stored'),
      pins: gauge('pins', 'Pinned blobs'),
      gcRunning: gauge('gc_running', '1 while a space management run is in progress')
    }

    const store = this.source?.store
    if (store !== undefined) {
      this.unsubscribe.push(store.onAdded((info) => {
        this.blobsAdded.inc()
        this.bytesAdded.inc(info.size)
      }))
    }
    const space = this.source?.space
    if (space !== undefined) {
      this.unsubscribe.push(space.onRun((report) => {
        this.gcRuns.inc({ trigger: report.trigger })
        this.gcSeconds.observe(report.durationMs / 1000)
        this.blobsEvicted.inc(report.evicted.blobs)
        this.bytesEvicted.inc(report.evicted.bytes)
      }))
    }
    this.attachNetwork()
  }

  /** Counts one API answer; `route` is the route template (`/api/v1/refs/*`), so labels stay few. */
  observeRequest (method: string, route: string, status: number): void {
    this.apiRequests.inc({ method, route, status: String(status) })
  }

  /** The last failed fetches (at most RECENT_FAILURES), newest first. */
  recentFailures (): FetchFailure[] {
    return this.failures.map((f) => ({ ...f }))
  }

  /** The Prometheus text exposition, gauges read now. */
  async render (): Promise<{ contentType: string, text: string }> {
    await this.refresh()
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }

  close (): void {
    for (const off of [...this.unsubscribe, ...this.networkOff]) off()
    this.unsubscribe.length = 0
    this.networkOff = []
  }

  /** Subscribes to the node's current network (started after this was made, or restarted). */
  private attachNetwork (): void {
    const network = this.source?.network
    if (network === this.network) return
    for (const off of this.networkOff) off()
    this.networkOff = []
    if (this.network !== undefined) {
      this.servedBefore.bytes += this.network.fetchProtocol.bytesServed
      this.servedBefore.blobs += this.network.fetchProtocol.answersServed
    }
    this.network = network
    if (network === undefined) return
    this.networkOff.push(network.fetcher.onFetch((e) => {
      if (e.path === 'single') this.fetches.inc({ outcome: e.outcome })
      if (e.outcome !== 'ok' && e.sha1 !== undefined) {
        this.failures.unshift({ sha1: e.sha1, code: e.outcome, message: e.message ?? '', at: new Date().toISOString() })
        this.failures.length = Math.min(this.failures.length, RECENT_FAILURES)
      }
      if (e.durationMs !== undefined) this.fetchSeconds.observe(e.durationMs / 1000)
      if (e.blobs > 0) {
        this.blobsFetched.inc({ path: e.path }, e.blobs)
        this.bytesFetched.inc({ path: e.path }, e.bytes)
      }
    }))
    this.networkOff.push(network.scores.onFault((e) => {
      this.peerFaults.inc()
      if (e.banned) this.peerBans.inc()
    }))
  }

  /** Brings a counter up to a total kept elsewhere (the fetch protocol's); counters only go up. */
  private catchUp (counter: Counter, total: number): void {
    const seen = this.totalsSeen.get(counter) ?? 0
    if (total > seen) counter.inc(total - seen)
    this.totalsSeen.set(counter, Math.max(seen, total))
  }

  private async refresh (): Promise<void> {
    this.attachNetwork()
    const source = this.source
    if (source === undefined) return
    const g = this.gauges
    const network = this.network
    this.catchUp(this.bytesServed, this.servedBefore.bytes + (network?.fetchProtocol.bytesServed ?? 0))
    this.catchUp(this.blobsServed, this.servedBefore.blobs + (network?.fetchProtocol.answersServed ?? 0))
    g.peers.set(network?.libp2p.getPeers().length ?? 0)
    g.transfers.set(network?.transfers().filter((t) => t.state !== 'done' && t.state !== 'failed').length ?? 0)
    const packs = source.store.packTotals()
    g.packFiles.set(packs.files)
    g.packBytes.set({ kind: 'disk' }, packs.bytes)
    g.packBytes.set({ kind: 'live' }, packs.liveBytes)
    g.refs.set(await source.refs.count())
    g.pins.set(await source.refs.pinCount())
    const space = await source.space.status()
    for (const c of CLASSES) {
      g.storeBytes.set({ class: c }, space.classes[c].bytes)
      g.storeBlobs.set({ class: c }, space.classes[c].blobs)
    }
    for (const part of ['blobs', 'db', 'reserved', 'total'] as const) g.usage.set({ part }, space.usage[part])
    g.limits.reset()
    if (space.limits.maxSize !== undefined) g.limits.set({ limit: 'max' }, space.limits.maxSize)
    if (space.thresholds !== undefined) {
      g.limits.set({ limit: 'high' }, space.thresholds.high)
      g.limits.set({ limit: 'low' }, space.thresholds.low)
      if (space.thresholds.hard !== undefined) g.limits.set({ limit: 'hard' }, space.thresholds.hard)
    }
    if (space.usage.diskFree !== undefined) g.diskFree.set(space.usage.diskFree)
    g.gcRunning.set(space.running ? 1 : 0)
  }
}
