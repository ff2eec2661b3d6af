import type { Trove } from '../node.js'

/** Optional parts of the Trove node that other components add when they are present. */
export interface TroveExtras {
  gc?: (options: { dryRun?: boolean }) => Promise<unknown>
  peerId?: unknown
  multiaddrs?: () => unknown[]
}

/** What the route handlers share. */
export interface ApiContext {
  trove: Trove
  /** The API's own base URL (no path), known once the server listens. */
  url: string
}

/** The Trove seen with its optional extras; they are looked up at run time, not assumed. */
export function extrasOf (trove: Trove): TroveExtras {
  return trove as unknown as TroveExtras
}

/** Network facts of a started node, for `GET /status`; empty when no network runs. */
export function networkInfo (trove: Trove): { peerId?: string, multiaddrs?: string[] } {
  const extras = extrasOf(trove)
  const out: { peerId?: string, multiaddrs?: string[] } = {}
  // either may throw while the network is not up (yet, or any more); status still answers
  try {
    if (extras.peerId !== undefined && extras.peerId !== null) out.peerId = String(extras.peerId)
  } catch {}
  try {
    if (typeof extras.multiaddrs === 'function') out.multiaddrs = extras.multiaddrs().map((a) => String(a))
  } catch {}
  return out
}
