import type { PeerId } from '@libp2p/interface'
import type { DataDirLayout } from './datadir.js'
import { AddressInUseError } from './errors.js'
import type { TroveDb } from './db.js'
import type { FetchManyOptions, FetchManyResult, FetchOptions, PeerInfo, TransferInfo } from './ops.js'
import { AnnounceProtocol } from './protocols/announce/index.js'
import { FetchProtocol } from './protocols/fetch/index.js'
import { HaveProtocol } from './protocols/have/index.js'
import type { BlobInfo, BlobStore } from './store/blob-store.js'
import { Fetcher } from './transfer/fetcher.js'
import { ProviderTable } from './transfer/providers.js'
import { PeerScores } from './transfer/scores.js'
import { dhtKey } from './net/dht-key.js'
import { loadOrCreateKey } from './net/identity.js'
import { createNetwork, type NetworkInit, type TroveLibp2p } from './net/libp2p.js'

/** DHT provide records published at once: providing is a network walk, so it runs in the background. */
export const DHT_PROVIDE_CONCURRENCY = 4
/** One provide walk may take this long before it is abandoned (and retried). */
export const DHT_PROVIDE_TIMEOUT_MS = 60_000
/** A failed provide is retried after 5 s, 10 s, 20 s, ... up to this many attempts in all. */
export const DHT_PROVIDE_ATTEMPTS = 6
export const DHT_PROVIDE_RETRY_MS = 5_000
/** Blobs waiting to be provided on the DHT at most; past this the oldest wait for the next restart. */
export const MAX_PROVIDE_QUEUE = 100_000

export interface NetworkComponents {
  db: TroveDb
  store: BlobStore
  layout: DataDirLayout
  reserve?: (bytes: number) => Promise<() => void>
}

export interface TroveNetworkInit extends Omit<NetworkInit, 'privateKey'> {
  findTimeoutMs?: number
  stallTimeoutMs?: number
  announceBatchMs?: number
  /** Chunked downloads write with O_DIRECT where possible (default true; see src/transfer/direct-io.ts). */
  directWrites?: boolean
}

/** The running network side of a node: libp2p, the three Trove protocols and the fetcher. */
export class TroveNetwork {
  readonly providers = new ProviderTable()
  readonly scores = new PeerScores()
  libp2p!: TroveLibp2p
  have!: HaveProtocol
  fetchProtocol!: FetchProtocol
  announce!: AnnounceProtocol
  fetcher!: Fetcher
  private unsubscribe: (() => void) | undefined
  private readonly provideQueue: Array<{ sha1: string, attempt: number }> = []
  private providing = 0
  private stopped = false

  constructor (private readonly c: NetworkComponents, private readonly init: TroveNetworkInit) {}

  async start (): Promise<void> {
    const privateKey = await loadOrCreateKey(this.c.layout.key)
    // createLibp2p already listens, so a taken port fails here
    this.libp2p = await createNetwork({ ...this.init, privateKey }).catch((err: unknown) => { throw listenError(err, this.init.listen) })
    const base = { libp2p: this.libp2p, store: this.c.store, db: this.c.db }
    this.have = new HaveProtocol(base)
    this.fetchProtocol = new FetchProtocol(base, { stallTimeoutMs: this.init.stallTimeoutMs })
    this.announce = new AnnounceProtocol({ libp2p: this.libp2p, providers: this.providers }, { batchMs: this.init.announceBatchMs })
    this.fetcher = new Fetcher({
      ...base,
      layout: this.c.layout,
      have: this.have,
      fetch: this.fetchProtocol,
      providers: this.providers,
      scores: this.scores,
      reserve: this.c.reserve
    }, { dht: this.init.dht === true, findTimeoutMs: this.init.findTimeoutMs, directWrites: this.init.directWrites })
    await this.have.start()
    await this.fetchProtocol.start()
    await this.announce.start()
    this.libp2p.addEventListener('peer:disconnect', (evt) => { this.providers.forgetPeer(evt.detail.toString()) })
    this.unsubscribe = this.c.store.onAdded((info) => {
      this.announce.announce(info.sha1, info.size)
      if (this.init.dht === true) this.queueProvide(info.sha1)
    })
    try {
      await this.libp2p.start()
    } catch (err) {
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      throw listenError(err, this.init.listen)
    }
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString())
  }

  async fetch (sha1: string, options: FetchOptions = {}): Promise<BlobInfo> {
    return this.fetcher.fetch(sha1, options)
  }

  async fetchMany (sha1s: string[], options: FetchManyOptions = {}): Promise<FetchManyResult> {
    return this.fetcher.fetchMany(sha1s, options)
  }

  transfers (): TransferInfo[] {
    return this.fetcher.transfers()
  }

  peers (): PeerInfo[] {
    return this.libp2p.getConnections().map((conn) => ({
      peerId: conn.remotePeer.toString(),
      addresses: [conn.remoteAddr.toString()],
      faults: this.scores.faults(conn.remotePeer.toString())
    }))
  }

  /** Publishes provider records for blobs already stored (on start with the DHT on). */
  async provideAll (): Promise<void> {
    for await (const info of this.c.store.list()) this.queueProvide(info.sha1)
  }

  private queueProvide (sha1: string, attempt = 0): void {
    if (this.provideQueue.length >= MAX_PROVIDE_QUEUE) return
    this.provideQueue.push({ sha1, attempt })
    this.pumpProvide()
  }

  private pumpProvide (): void {
    while (!this.stopped && this.providing < DHT_PROVIDE_CONCURRENCY && this.provideQueue.length > 0) {
      const { sha1, attempt } = this.provideQueue.shift() as { sha1: string, attempt: number }
      this.providing++
      void this.libp2p.contentRouting.provide(dhtKey(sha1), { signal: AbortSignal.timeout(DHT_PROVIDE_TIMEOUT_MS) })
        .catch(() => {
          // typically no DHT peers yet (a node that added before it joined): try again later,
          // with back-off, so content added early still becomes findable
          if (this.stopped || attempt + 1 >= DHT_PROVIDE_ATTEMPTS) return
          const retry = setTimeout(() => this.queueProvide(sha1, attempt + 1), DHT_PROVIDE_RETRY_MS * 2 ** attempt)
          retry.unref()
        })
        .finally(() => {
          this.providing--
          this.pumpProvide()
        })
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.unsubscribe?.()
    await this.announce.flush().catch(() => {})
    await this.announce.stop().catch(() => {})
    await this.libp2p.stop()
  }
}

/** A taken listen port becomes a one-line ADDRESS_IN_USE error instead of libp2p's stack trace. */
function listenError (err: unknown, listen: string[]): unknown {
  const text = String((err as Error)?.message ?? err)
  if (!text.includes('EADDRINUSE')) return err
  const addr = /(\/ip[46]\/[^\s:]+\/tcp\/\d+)/.exec(text)?.[1] ?? listen.join(' ')
  return new AddressInUseError(`cannot listen on ${addr}: the address is already in use (another trove node? choose another with --listen)`, { cause: err })
}
