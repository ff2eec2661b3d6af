import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../logger.js'
import { dhtKey } from '../net/dht-key.js'
import type { TroveLibp2p } from '../net/libp2p.js'
import type { HaveAnswer, HaveProtocol } from '../protocols/have/index.js'
import { DHT_MAX_PROVIDERS, FIND_RETRY_MS } from './constants.js'
import type { ProviderTable } from './providers.js'
import type { PeerScores } from './scores.js'

/** Peers a failed search names (a node with hundreds of peers names the first ones). */
const MAX_PEERS_NAMED = 64

export interface Candidate {
  peer: PeerId
  size: number
  manifest?: string
}

export interface FindComponents {
  /** Connected peers, and the DHT when it is on. */
  libp2p: Pick<TroveLibp2p, 'getPeers' | 'contentRouting' | 'peerId' | 'peerStore'>
  have: Pick<HaveProtocol, 'query'>
  providers: ProviderTable
  scores: PeerScores
  dht: boolean
  log: Logger
}

export interface FindReport {
  candidates: Candidate[]
  /** What was tried, for the error a user sees when nothing is found. */
  asked: number
  /** The peers asked (ids, at most MAX_PEERS_NAMED), for that error too. */
  peers: string[]
  dhtProviders: number
  rounds: number
}

/**
 * Finds peers that hold a blob: connected peers and peers that announced it are asked directly
 * (one have round trip); beyond them the DHT is asked for providers, which are then asked too.
 * Repeats until something is found or the deadline passes: a node that just started may not be
 * connected yet. With `once`, one round only: who holds it now, for a question that must not wait.
 */
export async function findCandidates (c: FindComponents, sha1: string, options: { signal: AbortSignal, exclude?: Set<string>, once?: boolean }): Promise<FindReport> {
  const report: FindReport = { candidates: [], asked: 0, peers: [], dhtProviders: 0, rounds: 0 }
  const named = new Set<string>()
  const { signal } = options
  for (;;) {
    report.rounds++
    const peers = new Map<string, PeerId>()
    for (const p of c.libp2p.getPeers()) peers.set(p.toString(), p)
    for (const id of c.providers.get(sha1)) {
      if (!peers.has(id)) {
        try {
          peers.set(id, peerIdFromString(id))
        } catch {
          // the table holds what peers announced; an id that does not parse is skipped
        }
      }
    }
    const usable = [...peers.values()].filter((p) => !c.scores.isBanned(p.toString()) && options.exclude?.has(p.toString()) !== true)
    report.candidates = await askPeers(c, usable, sha1, signal)
    report.asked = Math.max(report.asked, usable.length)
    for (const p of usable) if (named.size < MAX_PEERS_NAMED) named.add(p.toString())
    report.peers = [...named]
    if (report.candidates.length > 0) return report
    if (c.dht) {
      const found = await dhtProviders(c, sha1, signal, new Set([...peers.keys(), ...(options.exclude ?? [])]))
      report.dhtProviders = Math.max(report.dhtProviders, found.length)
      for (const p of found) if (named.size < MAX_PEERS_NAMED) named.add(p.toString())
      report.peers = [...named]
      report.candidates = await askPeers(c, found, sha1, signal)
      if (report.candidates.length > 0) return report
    }
    if (signal.aborted || options.once === true) return report
    // an abort ends the wait early; it is checked just below
    await sleep(FIND_RETRY_MS, signal).catch(() => {})
    if (signal.aborted) return report
  }
}

async function askPeers (c: FindComponents, peers: PeerId[], sha1: string, signal: AbortSignal): Promise<Candidate[]> {
  const answers = await Promise.allSettled(peers.map(async (peer) => {
    const [answer] = await c.have.query(peer, [sha1], { signal })
    return { peer, answer }
  }))
  const out: Candidate[] = []
  for (const a of answers) {
    if (a.status !== 'fulfilled') continue
    const { peer, answer } = a.value as { peer: PeerId, answer: HaveAnswer }
    if (!answer.have) {
      c.providers.remove(sha1, peer.toString())
      continue
    }
    c.providers.add(sha1, peer.toString(), answer.size)
    const cand: Candidate = { peer, size: answer.size ?? 0 }
    if (answer.manifest !== undefined) cand.manifest = answer.manifest
    out.push(cand)
  }
  return out
}

async function dhtProviders (c: FindComponents, sha1: string, signal: AbortSignal, skip: Set<string>): Promise<PeerId[]> {
  const out: PeerId[] = []
  try {
    for await (const prov of c.libp2p.contentRouting.findProviders(dhtKey(sha1), { signal })) {
      const id = prov.id.toString()
      if (id === c.libp2p.peerId.toString() || skip.has(id) || c.scores.isBanned(id)) continue
      skip.add(id)
      if (prov.multiaddrs.length > 0) {
        // without the addresses the dial may still find the peer through the DHT
        await c.libp2p.peerStore.merge(prov.id, { multiaddrs: prov.multiaddrs }).catch((err: unknown) => {
          c.log.debug(`recording the addresses of provider ${id} failed`, err)
        })
      }
      out.push(prov.id)
      if (out.length >= DHT_MAX_PROVIDERS) break
    }
  } catch (err) {
    // no route (empty routing table) or deadline: expected, nothing found this round
    c.log.debug(`asking the DHT for providers of sha1://${sha1} failed`, err)
  }
  return out
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}
