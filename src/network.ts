import type { Readable } from 'node:stream'
import type { PeerId } from '@libp2p/interface'
import type { DataDirLayout } from './datadir.js'
import { AddressInUseError, InvalidArgumentError, PeerUnreachableError } from './errors.js'
import { defaultLogger, type ComponentLogger, type Logger } from './logger.js'
import type { FetchManyOptions, FetchManyResult, FetchOptions, NetworkStatus, PeerInfo, ReadRange, TransferInfo } from './ops.js'
import { announceProtocol } from './protocols/announce/announce.js'
import type { AnnounceProtocol } from './protocols/announce/index.js'
import { fetchProtocol } from './protocols/fetch/fetch.js'
import type { FetchProtocol } from './protocols/fetch/index.js'
import { haveProtocol } from './protocols/have/have.js'
import type { HaveProtocol } from './protocols/have/index.js'
import type { BlobInfo, BlobStore } from './store/blob-store.js'
import type { ManifestIndex } from './store/manifests.js'
import { Fetcher } from './transfer/fetcher.js'
import { ProviderTable } from './transfer/providers.js'
import { ProvideQueue } from './transfer/provide-queue.js'
import { PeerScores } from './transfer/scores.js'
import { loadOrCreateKey } from './net/identity.js'
import { createNetwork, type NetworkInit, type TroveLibp2p } from './net/libp2p.js'
import { parsePeerAddress } from './net/addresses.js'
import { Redialer, type RedialInit } from './net/redial.js'

export interface NetworkComponents {
  store: BlobStore
  manifests: ManifestIndex
  /** Where the node's key is (the libp2p identity). */
  layout: Pick<DataDirLayout, 'key'>
  reserve?: (bytes: number) => Promise<() => void>
  /** Where the network's background failures go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

export interface TroveNetworkInit extends Omit<NetworkInit, 'privateKey'> {
  findTimeoutMs?: number
  stallTimeoutMs?: number
  announceBatchMs?: number
  /** Chunked downloads write with O_DIRECT where possible (default true; see src/transfer/direct-io.ts). */
  directWrites?: boolean
  /** Redial timing (default: src/net/constants.ts). */
  redial?: RedialInit
}

/** The running network side of a node: libp2p, the three Trove protocols and the fetcher. */
export class TroveNetwork {
  readonly providers = new ProviderTable()
  readonly scores = new PeerScores()
  readonly libp2p: TroveLibp2p
  readonly have: HaveProtocol
  readonly fetchProtocol: FetchProtocol
  readonly announce: AnnounceProtocol
  readonly fetcher: Fetcher
  private readonly provides: ProvideQueue
  private readonly redialer: Redialer
  private readonly log: Logger
  private unsubscribe: (() => void) | undefined
  private stopped = false

  /** Brings the network up: libp2p listening, the protocols handling, announcements going out. */
  static async start (c: NetworkComponents, init: TroveNetworkInit): Promise<TroveNetwork> {
    const privateKey = await loadOrCreateKey(c.layout.key)
    // createLibp2p already listens, so a taken port fails here
    const libp2p = await createNetwork({ ...init, privateKey }).catch((err: unknown) => { throw listenError(err, init.listen) })
    const network = new TroveNetwork(c, init, libp2p)
    await network.startParts()
    return network
  }

  private constructor (private readonly c: NetworkComponents, private readonly init: TroveNetworkInit, libp2p: TroveLibp2p) {
    this.libp2p = libp2p
    const logger = c.logger ?? defaultLogger()
    this.log = logger.forComponent('network')
    this.have = haveProtocol()({ libp2p, blobs: c.store, manifests: c.manifests, logger })
    this.fetchProtocol = fetchProtocol({ stallTimeoutMs: init.stallTimeoutMs })({ libp2p, blobs: c.store, logger })
    this.announce = announceProtocol({ batchMs: init.announceBatchMs })({
      libp2p,
      onAnnounce: (peer, blobs) => {
        for (const { sha1, size } of blobs) this.providers.add(sha1, peer, size)
        return this.providers.accepts(peer)
      },
      accepts: (peer) => this.providers.accepts(peer),
      logger
    })
    this.fetcher = new Fetcher({
      libp2p,
      store: c.store,
      manifests: c.manifests,
      have: this.have,
      fetch: this.fetchProtocol,
      providers: this.providers,
      scores: this.scores,
      reserve: c.reserve,
      logger
    }, { dht: init.dht === true, findTimeoutMs: init.findTimeoutMs, directWrites: init.directWrites })
    this.provides = new ProvideQueue({ libp2p, logger })
    this.redialer = new Redialer({ libp2p, logger }, init.redial)
  }

  private async startParts (): Promise<void> {
    await this.have.start()
    await this.fetchProtocol.start()
    await this.announce.start()
    this.libp2p.addEventListener('peer:disconnect', (evt) => { this.providers.forgetPeer(evt.detail.toString()) })
    this.unsubscribe = this.c.store.onAdded((info) => {
      this.announce.announce(info.sha1, info.size)
      if (this.init.dht === true) this.provides.add(info.sha1)
    })
    try {
      await this.libp2p.start()
      this.redialer.start(this.bootstrapPeers())
    } catch (err) {
      // the start's own error is the one to report; stopping what did start is only cleanup
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      throw listenError(err, this.init.listen)
    }
  }

  /** The bootstrap addresses that name a peer (libp2p's bootstrap module skips the others too, logging them). */
  private bootstrapPeers (): Array<ReturnType<typeof parsePeerAddress>> {
    const out: Array<ReturnType<typeof parsePeerAddress>> = []
    for (const addr of this.init.bootstrap ?? []) {
      try {
        out.push(parsePeerAddress(addr, 'bootstrap address'))
      } catch (err) {
        this.log.warn('a bootstrap address is not redialled', err)
      }
    }
    return out
  }

  /**
   * Connects to the peer at `addr` (a multiaddr ending in /p2p/<id>) and remembers it for redial
   * while the node runs. InvalidArgumentError naming the value for a malformed address,
   * PeerUnreachableError when the dial fails.
   */
  async connect (addr: string): Promise<PeerInfo> {
    const { addr: ma, peer } = parsePeerAddress(addr, 'connect: address')
    if (peer.equals(this.peerId)) throw new InvalidArgumentError(`connect: address ${JSON.stringify(addr)} is this node's own`)
    let conn
    try {
      conn = await this.libp2p.dial(ma)
    } catch (err) {
      throw new PeerUnreachableError(`cannot connect to ${addr}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
    this.redialer.remember(ma, peer)
    return { peerId: peer.toString(), addresses: [conn.remoteAddr.toString()], faults: this.scores.faults(peer.toString()) }
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString())
  }

  /** What `status` reports of the network: identity, peers, whether the DHT runs, what was served. */
  status (): NetworkStatus {
    return {
      peerId: this.peerId.toString(),
      addresses: this.multiaddrs(),
      peers: this.libp2p.getPeers().length,
      dht: this.libp2p.services.dht !== undefined,
      bytesServed: this.fetchProtocol.bytesServed,
      knownProviders: this.providers.size
    }
  }

  async fetch (sha1: string, options: FetchOptions = {}): Promise<BlobInfo> {
    return this.fetcher.fetch(sha1, options)
  }

  /** The blob as a stream while `fetching` (a fetch of it) runs, verified chunk by chunk (Fetcher.follow). */
  async follow (sha1: string, fetching: Promise<unknown>): Promise<{ stream: Readable, size: number } | undefined> {
    return this.fetcher.follow(sha1, fetching)
  }

  /** A blob's bytes or a range of them; a remote large blob's range fetches only its chunks (Fetcher.readRange). */
  async readRange (sha1: string, range: ReadRange, options: FetchOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    return this.fetcher.readRange(sha1, range, options)
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

  /**
   * Publishes provider records for blobs already stored (on start with the DHT on). Runs in the
   * background: it never rejects, a failure to list the store is logged.
   */
  async provideAll (): Promise<void> {
    try {
      for await (const info of this.c.store.list()) this.provides.add(info.sha1)
    } catch (err) {
      this.log.warn('listing the store to provide its blobs on the DHT failed', err)
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    // first: libp2p's stop closes every connection, and those closes must not be redialled
    this.redialer.stop()
    this.provides.stop()
    this.unsubscribe?.()
    // stopping goes on whatever fails here: what was queued is lost, and peers can still ask
    await this.announce.flush().catch((err: unknown) => { this.log.warn('sending the last announcements failed', err) })
    await this.announce.stop().catch((err: unknown) => { this.log.warn('stopping the announce protocol failed', err) })
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
