import { generateKeyPair } from '@libp2p/crypto/keys'
import type { AbortOptions, Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'

/**
 * Stand-ins for the slices of libp2p the protocols take (`handle`, `unhandle`, `dialProtocol`,
 * `getPeers`), joined in memory: a dial runs the remote's handler on the other end of a stream
 * pair from @libp2p/utils (real libp2p 3 message streams over a mock muxer, with back-pressure,
 * pause/resume, close and reset), so a protocol is tested without sockets, noise or yamux.
 */
export class FakeNet {
  private readonly nodes = new Map<string, FakeLibp2p>()

  /** A new node on this net; every node counts every other as connected. */
  async node (): Promise<FakeLibp2p> {
    const node = new FakeLibp2p(this, await newPeerId())
    this.nodes.set(node.peerId.toString(), node)
    return node
  }

  /** Removes a node, as if it went away: dials to it fail and it is no longer a peer. */
  leave (node: FakeLibp2p): void {
    this.nodes.delete(node.peerId.toString())
  }

  get (peer: PeerId): FakeLibp2p | undefined {
    return this.nodes.get(peer.toString())
  }

  peersOf (node: FakeLibp2p): PeerId[] {
    return [...this.nodes.values()].filter((n) => n !== node).map((n) => n.peerId)
  }
}

export class FakeLibp2p {
  private readonly handlers = new Map<string, { handler: StreamHandler, options?: StreamHandlerOptions }>()
  /** The local end of every stream this node dialed, in order. */
  readonly dialed: Stream[] = []

  constructor (private readonly net: FakeNet, readonly peerId: PeerId) {}

  async handle (protocol: string | string[], handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    for (const p of [protocol].flat()) this.handlers.set(p, { handler, options })
  }

  async unhandle (protocols: string | string[], _options?: AbortOptions): Promise<void> {
    for (const p of [protocols].flat()) this.handlers.delete(p)
  }

  /** The options a protocol registered its handler with (stream limits). */
  handlerOptions (protocol: string): StreamHandlerOptions | undefined {
    return this.handlers.get(protocol)?.options
  }

  handles (protocol: string): boolean {
    return this.handlers.has(protocol)
  }

  async dialProtocol (peer: PeerId, protocols: string | string[], options: AbortOptions = {}): Promise<Stream> {
    options.signal?.throwIfAborted()
    const protocol = [protocols].flat()[0]
    const remote = this.net.get(peer)
    if (remote === undefined) throw Object.assign(new Error(`no connection to ${peer.toString()}`), { name: 'DialError' })
    const entry = remote.handlers.get(protocol)
    if (entry === undefined) throw Object.assign(new Error(`${peer.toString()} does not support ${protocol}`), { name: 'UnsupportedProtocolError' })
    const [outbound, inbound] = await streamPair({ protocol })
    this.dialed.push(outbound)
    // the handler sees who dialed it, as libp2p's connection does
    void entry.handler(inbound, { remotePeer: this.peerId } as unknown as Connection)
    return outbound
  }

  getPeers (): PeerId[] {
    return this.net.peersOf(this)
  }
}

export async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Resolves once the stream has closed or been reset (with the error of a reset, if any). */
export async function closed (stream: Stream): Promise<Error | undefined> {
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') return undefined
  return new Promise((resolve) => {
    stream.addEventListener('close', (evt) => { resolve(evt.error) }, { once: true })
  })
}
