import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../errors.js'

const PEER_EXAMPLE = '/ip4/10.0.0.5/tcp/4737/p2p/12D3KooW...'
const LISTEN_EXAMPLE = '/ip4/0.0.0.0/tcp/4737'

/**
 * A multiaddr checked before it reaches libp2p, so a typo is one line naming where it came from
 * (`what`: a flag, a config key, a command) and the value, rather than libp2p's "Component p2p
 * was missing value". With `needsPeer` the address must end in the peer's id (`/p2p/<id>`): that
 * is how a node knows whom it reached. InvalidArgumentError otherwise.
 */
export function parseAddress (addr: string, what: string, needsPeer: boolean): { addr: Multiaddr, peer?: PeerId } {
  let why: string
  try {
    const ma = multiaddr(addr)
    const id = ma.getComponents().find((c) => c.name === 'p2p')?.value
    if (id === undefined) {
      if (!needsPeer) return { addr: ma }
      why = 'it names no peer (/p2p/<peer id> at the end)'
    } else {
      try {
        return { addr: ma, peer: peerIdFromString(id) }
      } catch {
        why = `"${id}" is not a peer id`
      }
    }
  } catch (err) {
    why = (err as Error).message
  }
  throw new InvalidArgumentError(`${what} ${JSON.stringify(addr)} is not a valid ${needsPeer ? 'peer address' : 'multiaddr'}: ${why} (expected like ${needsPeer ? PEER_EXAMPLE : LISTEN_EXAMPLE})`)
}

/** A peer's address (`/p2p/<id>` at the end required), as `parseAddress` checks it. */
export function parsePeerAddress (addr: string, what: string): { addr: Multiaddr, peer: PeerId } {
  const { addr: ma, peer } = parseAddress(addr, what, true)
  return { addr: ma, peer: peer as PeerId }
}
