import type { NodeInfo, TroveOps } from '../ops.js'

/** What the route handlers share. */
export interface ApiContext {
  /** Every route is one of the contract's operations. */
  ops: TroveOps
  /** The node's own facts, for `GET /status`. */
  node: NodeInfo
  /** The API's own base URL (no path), known once the server listens. */
  url: string
}

/** Network facts of a node, for `GET /status` and `trove start`'s first line; no peer id while no network runs. */
export function networkInfo (node: NodeInfo): { peerId?: string, multiaddrs: string[] } {
  const peerId = node.peerId
  // peerId first: `trove start --json` prints these keys in this order
  return peerId !== undefined ? { peerId, multiaddrs: node.multiaddrs() } : { multiaddrs: node.multiaddrs() }
}
