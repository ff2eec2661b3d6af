import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ComponentLogger, Logger } from '../logger.js'
import { REDIAL_INITIAL_DELAY_MS, REDIAL_JITTER, REDIAL_MAX_DELAY_MS, REDIAL_MAX_PEERS, REDIAL_RECENT_MS } from './constants.js'

/** The slice of libp2p a Redialer uses. */
export type RedialLibp2p = Pick<Libp2p, 'peerId' | 'status' | 'dial' | 'getConnections' | 'addEventListener' | 'removeEventListener' | 'peerStore'>

export interface RedialComponents {
  libp2p: RedialLibp2p
  logger: ComponentLogger
}

export interface RedialInit {
  initialDelayMs?: number
  maxDelayMs?: number
  /** Fraction each delay moves by, either way. */
  jitter?: number
  /** How long a peer that went away counts as recent (redialled). */
  recentMs?: number
  /** Recent peers remembered at most. */
  maxPeers?: number
  /** Source of the jitter (default Math.random). */
  random?: () => number
}

interface Entry {
  id: PeerId
  /** Bootstrap peers and peers given to `connect`: redialled as long as the node runs. */
  pinned: boolean
  /** Addresses given to us (bootstrap, connect); kept whatever the peer store forgets. */
  given: Multiaddr[]
  /** The peer store's addresses of the peer when it went away. */
  known: Multiaddr[]
  delayMs: number
  /** When the peer last connected or went away. */
  seenAt: number
  timer?: ReturnType<typeof setTimeout>
}

/**
 * Redials bootstrap peers, peers given to `connect` and peers we were recently connected to, when
 * their connection goes (a restart, a dropped network), with exponential back-off capped at
 * `maxDelayMs`, jittered, reset when the peer connects again. Failures are logged at debug: a
 * peer that is down is the normal case here, not an error.
 *
 * Why not libp2p's own reconnect (peers tagged KEEP_ALIVE, `connectionManager.reconnectRetries`):
 * its ReconnectQueue (libp2p 3.3, connection-manager/reconnect-queue.js) retries a fixed number
 * of times (default 5) with a back-off that has no cap and no jitter, then removes the KEEP_ALIVE
 * tag, so a peer down longer than the retry budget is never dialled again; and it reacts only to a
 * disconnect, so a bootstrap peer that was down when we started (the @libp2p/bootstrap module
 * dials once) is never retried. Those are the two cases this class exists for.
 */
export class Redialer {
  private readonly peers = new Map<string, Entry>()
  private readonly log: Logger
  private readonly initialDelayMs: number
  private readonly maxDelayMs: number
  private readonly jitter: number
  private readonly recentMs: number
  private readonly maxPeers: number
  private readonly random: () => number
  private started = false

  constructor (private readonly components: RedialComponents, init: RedialInit = {}) {
    this.log = components.logger.forComponent('redial')
    this.initialDelayMs = init.initialDelayMs ?? REDIAL_INITIAL_DELAY_MS
    this.maxDelayMs = init.maxDelayMs ?? REDIAL_MAX_DELAY_MS
    this.jitter = init.jitter ?? REDIAL_JITTER
    this.recentMs = init.recentMs ?? REDIAL_RECENT_MS
    this.maxPeers = init.maxPeers ?? REDIAL_MAX_PEERS
    this.random = init.random ?? Math.random
  }

  /** Starts watching connections; each bootstrap peer not connected by the first delay is dialled. */
  start (bootstrap: Array<{ addr: Multiaddr, peer: PeerId }> = []): void {
    if (this.started) return
    this.started = true
    this.components.libp2p.addEventListener('peer:connect', this.onConnect)
    this.components.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const { addr, peer } of bootstrap) this.schedule(this.pin(addr, peer))
  }

  /** Remembers a peer reached through `addr` (by `connect`) for as long as the node runs. */
  remember (addr: Multiaddr, peer: PeerId): void {
    this.pin(addr, peer)
  }

  private pin (addr: Multiaddr, peer: PeerId): Entry {
    const entry = this.entry(peer, true)
    entry.pinned = true
    if (!entry.given.some((a) => a.equals(addr))) entry.given.push(addr)
    return entry
  }

  /** Peers remembered for redial (connected or not), by peer id. */
  remembered (): string[] {
    return [...this.peers.keys()]
  }

  /** Stops every pending redial; nothing runs after this resolves. */
  stop (): void {
    if (!this.started) return
    this.started = false
    this.components.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.components.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const entry of this.peers.values()) clearTimeout(entry.timer)
    this.peers.clear()
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const entry = this.entry(evt.detail, false)
    clearTimeout(entry.timer)
    entry.timer = undefined
    entry.delayMs = this.initialDelayMs
    entry.seenAt = Date.now()
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const entry = this.peers.get(evt.detail.toString())
    if (entry === undefined) return
    entry.seenAt = Date.now()
    // the addresses are read now: the peer store drops them an hour after they were last seen
    this.components.libp2p.peerStore.get(entry.id)
      .then((peer) => { entry.known = peer.addresses.map((a) => a.multiaddr) })
      .catch((err: unknown) => { this.log.debug(`no stored addresses for ${entry.id.toString()}`, err) })
      .finally(() => { this.schedule(entry) })
  }

  /** The entry of `peer`, made most recently used; a new one may push the least recent out. */
  private entry (peer: PeerId, pinned: boolean): Entry {
    const key = peer.toString()
    let entry = this.peers.get(key)
    if (entry !== undefined) {
      this.peers.delete(key)
    } else {
      entry = { id: peer, pinned, given: [], known: [], delayMs: this.initialDelayMs, seenAt: Date.now() }
    }
    this.peers.set(key, entry)
    if (!entry.pinned) this.trim()
    return entry
  }

  private trim (): void {
    let recent = 0
    for (const e of this.peers.values()) if (!e.pinned) recent++
    for (const [key, e] of this.peers) {
      if (recent <= this.maxPeers) break
      if (e.pinned) continue
      clearTimeout(e.timer)
      this.peers.delete(key)
      recent--
    }
  }

  private schedule (entry: Entry): void {
    if (!this.started || entry.timer !== undefined || this.peers.get(entry.id.toString()) !== entry) return
    const spread = 1 - this.jitter + 2 * this.jitter * this.random()
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      void this.redial(entry)
    }, Math.round(entry.delayMs * spread))
    // a pending redial alone must not keep a process alive; stop() clears it anyway
    entry.timer.unref?.()
  }

  private async redial (entry: Entry): Promise<void> {
    const { libp2p } = this.components
    const key = entry.id.toString()
    if (!this.started || libp2p.status !== 'started' || this.peers.get(key) !== entry) return
    if (libp2p.getConnections(entry.id).length > 0) return
    if (!entry.pinned && Date.now() - entry.seenAt > this.recentMs) {
      this.peers.delete(key)
      return
    }
    try {
      const addrs = this.targets(entry)
      await libp2p.dial(addrs.length > 0 ? addrs : entry.id)
      // the peer:connect event has reset the back-off
    } catch (err) {
      this.log.debug(`redialling ${key} failed; next try in about ${Math.min(entry.delayMs * 2, this.maxDelayMs)} ms`, err)
      entry.delayMs = Math.min(entry.delayMs * 2, this.maxDelayMs)
      this.schedule(entry)
    }
  }

  /** Every address we know for the peer, each naming the peer (libp2p dials them together). */
  private targets (entry: Entry): Multiaddr[] {
    const out: Multiaddr[] = []
    const p2p = multiaddr(`/p2p/${entry.id.toString()}`)
    for (const a of [...entry.given, ...entry.known]) {
      const full = a.getComponents().some((c) => c.name === 'p2p') ? a : a.encapsulate(p2p)
      if (!out.some((o) => o.equals(full))) out.push(full)
    }
    return out
  }
}
