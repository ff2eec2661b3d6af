import type { TroveDb } from '../db.js'
import type { RefStore } from '../refs/ref-store.js'
import type { BlobStore } from '../store/blob-store.js'
import { findReferences } from '../uri.js'
import { findExpired } from './expiry-sweep.js'
import { HoldComputer } from './holds.js'
import type { ClassBytes, SpaceExplanation, SpaceStatus } from './report.js'
import type { SpaceManager } from './space-manager.js'
import type { BlobState } from './state.js'

/** Blobs examined for the "expired" class; beyond that the figure is a lower bound. */
const EXPIRED_SCAN_MAX = 10_000
/** JSON blobs followed upwards when explaining why a blob is kept. */
const WHY_MAX_ANCESTORS = 64

export interface StatusComponents {
  db: TroveDb
  store: BlobStore
  refs: RefStore
  space: SpaceManager
}

export async function spaceStatus (c: StatusComponents): Promise<SpaceStatus> {
  const { space, db, store } = c
  await space.index.drain()
  const t = space.index.totals
  const usage = space.usage()
  const classified = t.protected.bytes + t.referenced.bytes + t.unreferenced.bytes
  const classifiedBlobs = t.protected.blobs + t.referenced.blobs + t.unreferenced.blobs
  const blobUsage = store.getUsage()
  const leased: ClassBytes = { blobs: 0, bytes: 0 }
  const leasedShas = store.leased()
  const states = leasedShas.length > 0 ? await db.spaceState.getMany(leasedShas) : []
  for (const st of states as Array<BlobState | undefined>) {
    if (st === undefined) continue
    leased.blobs++
    leased.bytes += st.s
  }
  const status: SpaceStatus = {
    limits: space.limits,
    usage,
    classes: {
      pinned: { ...t.protected },
      referenced: { ...t.referenced },
      unreferenced: { ...t.unreferenced },
      expired: await expiredBytes(c),
      leased,
      pending: { blobs: Math.max(0, blobUsage.blobs - classifiedBlobs), bytes: Math.max(0, blobUsage.bytes - classified) }
    },
    lastRuns: space.lastRuns,
    running: space.isRunning,
    metrics: { ...space.metrics }
  }
  const { maxSize, highWatermark, lowWatermark, hardLimit } = space.limits
  if (maxSize !== undefined) {
    status.thresholds = { high: Math.floor(maxSize * highWatermark), low: Math.floor(maxSize * lowWatermark) }
    if (hardLimit !== undefined) status.thresholds.hard = hardLimit
  }
  const over = space.overLimitState
  if (over !== undefined) status.overLimit = over
  return status
}

/** Bytes held only by refs that are past their expiry or ttl (the sweep will release them). */
async function expiredBytes (c: StatusComponents): Promise<ClassBytes> {
  const out: ClassBytes = { blobs: 0, bytes: 0 }
  await c.refs.flushAccess()
  const expired = await findExpired({ db: c.db, refs: c.refs })
  if (expired.length === 0) return out
  const keys = new Set(expired.map((e) => e.key))
  const seen = new Set<string>()
  for (const e of expired) {
    const stored = await c.db.refs.get(e.key) as { obj: unknown } | undefined
    if (stored === undefined) continue
    for (const sha1 of findReferences(stored.obj)) {
      if (seen.has(sha1) || seen.size >= EXPIRED_SCAN_MAX) continue
      seen.add(sha1)
      const st = await c.db.spaceState.get(sha1) as BlobState | undefined
      if (st === undefined || st.c !== 'r') continue
      const holders = await c.refs.holders(sha1)
      if (holders.every((h) => keys.has(h.key))) {
        out.blobs++
        out.bytes += st.s
      }
    }
  }
  return out
}

/** Why a blob stays (or would go): its class, what holds it directly and through JSON blobs, leases, grace. */
export async function explain (c: StatusComponents, sha1: string): Promise<SpaceExplanation> {
  const { space, db, store } = c
  await space.index.drain()
  const st = await space.index.state(sha1)
  const replicas = space.replicas.replicas(sha1)
  const out: SpaceExplanation = {
    class: st === undefined ? 'unknown' : st.c === 'p' ? 'pinned' : st.c === 'r' ? 'referenced' : 'unreferenced',
    replicas,
    leased: store.isLeased(sha1),
    changing: space.watch.isChanging(sha1),
    via: [],
    evictable: false
  }
  if (st !== undefined) {
    if (st.p !== undefined) out.priority = st.p
    if (st.m !== undefined) out.minCopies = st.m
    out.lastUsed = Math.max(st.a, space.access.get(sha1) ?? 0)
    out.addedAt = st.t
    if (st.c === 'u') {
      const written = Math.max(st.t, space.access.lastWrite(sha1) ?? 0)
      const until = written + space.limits.gracePeriodMs
      if (until > Date.now()) out.graceUntil = until
    }
  }
  // walk up the JSON blobs that reference this one and report what holds each of them
  const holds = new HoldComputer({ db, refs: c.refs, minCopies: space.watch.minCopies })
  const queue: string[][] = (await holds.parents(sha1)).map((p) => [p])
  const visited = new Set<string>([sha1])
  while (queue.length > 0 && visited.size <= WHY_MAX_ANCESTORS) {
    const path = queue.shift() as string[]
    const top = path[path.length - 1]
    if (visited.has(top)) continue
    visited.add(top)
    if (await c.refs.getPin(top) !== undefined) out.via.push({ path, pinned: true })
    for (const h of await c.refs.holders(top)) out.via.push({ path, key: h.key, priority: h.priority, pin: h.pin })
    for (const p of await holds.parents(top)) queue.push([...path, p])
  }
  out.evictable = st !== undefined && st.c !== 'p' && !out.leased && out.graceUntil === undefined &&
    !(st.m !== undefined && replicas < st.m)
  return out
}
