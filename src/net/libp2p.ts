import fs from 'node:fs/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
// type only: the optional parts below are imported when the config turns them on (see createNetwork)
import type { KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { InvalidArgumentError } from '../errors.js'
import { noiseCrypto } from './noise-crypto.js'
import { DEFAULT_ENCRYPTION, DHT_PROTOCOL, DIAL_TIMEOUT_MS, ENCRYPTIONS, type Encryption, MAX_CONNECTIONS, MDNS_INTERVAL_MS, MDNS_SERVICE_TAG, MAX_STREAM_WINDOW, MIN_STREAM_WINDOW, YAMUX_MAX_READ_BUFFER, YAMUX_MAX_STREAM_WINDOW } from './constants.js'

export interface NetworkInit {
  privateKey: PrivateKey
  listen: string[]
  bootstrap?: string[]
  mdns?: boolean
  dht?: boolean
  /** Path of a swarm key file: only nodes with the same key can connect (libp2p private network). */
  swarmKey?: string
  /** Only these peer IDs may connect or be dialled (empty or absent: anyone). */
  allowPeers?: string[]
  /** Yamux max stream window; configurable because it decides bulk throughput (bench/fetch). */
  streamWindow?: number
  /**
   * Connection encryption, in order of preference (default ['noise']). Peers agree on the first
   * of the dialler's list that the listener also has, so ['tls', 'noise'] uses TLS with nodes
   * that have it and noise with the rest; a node with ['tls'] alone reaches only TLS nodes.
   */
  encryption?: Encryption[]
}

export type TroveLibp2p = Libp2p<{ identify: unknown, ping: unknown, dht?: KadDHT }>

/**
 * Assembles libp2p: tcp + noise + yamux, identify, and the discovery the config asks for.
 *
 * The optional parts (kad-dht, mDNS, bootstrap, the private-network protector) are imported only
 * when the config turns them on: a module once imported stays in memory for the life of the
 * process, and kad-dht alone (its ~45 modules, with their protobuf codecs) is ~4.5 MB of a node's
 * resident set, held by every node that runs with the DHT off, the default (docs/performance.md,
 * Memory).
 */
export async function createNetwork (init: NetworkInit): Promise<TroveLibp2p> {
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if ((init.bootstrap ?? []).length > 0) {
    const { bootstrap } = await import('@libp2p/bootstrap')
    peerDiscovery.push(bootstrap({ list: init.bootstrap ?? [] }))
  }
  // libp2p 3 no longer dials discovered peers by itself: keep the mDNS service to dial what it finds
  let lan: PeerDiscovery | undefined
  if (init.mdns !== false) {
    const { mdns } = await import('@libp2p/mdns')
    const factory = mdns({ interval: MDNS_INTERVAL_MS, serviceTag: MDNS_SERVICE_TAG })
    peerDiscovery.push((components: Parameters<typeof factory>[0]) => (lan = factory(components)))
  }

  const services: Record<string, any> = { // eslint-disable-line @typescript-eslint/no-explicit-any
    identify: identify(),
    ping: ping()
  }
  if (init.dht === true) {
    const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
    services.dht = kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      // lab networks and tests use private and loopback addresses; keep them
      peerInfoMapper: passthroughMapper,
      allowQueryWithZeroPeers: true
    })
  }

  const window = init.streamWindow ?? YAMUX_MAX_STREAM_WINDOW
  // checked here too for library callers (the CLI checks first, for a usage error before anything starts)
  if (!Number.isSafeInteger(window) || window < MIN_STREAM_WINDOW || window > MAX_STREAM_WINDOW) {
    throw new InvalidArgumentError(`stream window must be between 256KiB and 1GiB, got ${String(window)}`)
  }
  const options: Libp2pOptions = {
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: await encrypters(init.encryption ?? DEFAULT_ENCRYPTION),
    streamMuxers: [yamux({
      streamOptions: {
        maxStreamWindowSize: window,
        maxReadBufferLength: Math.max(YAMUX_MAX_READ_BUFFER, 2 * window + 1024 * 1024)
      }
    })],
    peerDiscovery,
    services,
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      dialTimeout: DIAL_TIMEOUT_MS
    }
  }
  if (init.swarmKey !== undefined) {
    let psk: Uint8Array
    try {
      psk = await fs.readFile(init.swarmKey)
    } catch (err) {
      throw new InvalidArgumentError(`cannot read swarm key ${init.swarmKey}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
    const { preSharedKey } = await import('@libp2p/pnet')
    options.connectionProtector = preSharedKey({ psk })
  }
  if (init.allowPeers !== undefined && init.allowPeers.length > 0) {
    const allowed = new Set(init.allowPeers)
    const deny = (peerId: PeerId): boolean => !allowed.has(peerId.toString())
    options.connectionGater = {
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny
    }
  }
  const node = await createLibp2p(options) as unknown as TroveLibp2p
  if (lan !== undefined) dialDiscovered(node, lan)
  return node
}

/**
 * Connects to peers a LAN discovery service finds. Only mDNS peers are dialled this way: they are
 * the lab's own machines, whereas peers learnt from DHT walks are dialled by the DHT when needed.
 */
function dialDiscovered (node: TroveLibp2p, service: PeerDiscovery): void {
  service.addEventListener('peer', (evt) => {
    const { id, multiaddrs } = evt.detail
    if (id.equals(node.peerId) || node.getConnections(id).length > 0 || node.status !== 'started') return
    void (async () => {
      await node.peerStore.merge(id, { multiaddrs })
      await node.dial(id)
    })().catch(() => {
      // unreachable, refused by the gater or the swarm key, or we are stopping: mDNS will tell us again
    })
  })
}

/**
 * The libp2p encrypters for a preference list. TLS is imported only when asked for: its X.509
 * and ASN.1 libraries would otherwise sit in every node's memory.
 */
async function encrypters (names: readonly string[]): Promise<NonNullable<Libp2pOptions['connectionEncrypters']>> {
  if (names.length === 0) throw new InvalidArgumentError(`encryption needs at least one of ${ENCRYPTIONS.join(', ')}`)
  const out: NonNullable<Libp2pOptions['connectionEncrypters']> = []
  for (const name of new Set(names)) {
    if (name === 'noise') out.push(noise({ crypto: noiseCrypto }))
    else if (name === 'tls') out.push((await import('@libp2p/tls')).tls())
    else throw new InvalidArgumentError(`unknown encryption "${name}" (choose from ${ENCRYPTIONS.join(', ')})`)
  }
  return out
}
