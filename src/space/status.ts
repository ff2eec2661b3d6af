import type { TroveDb } from '../db.js'
import type { RefStore } from '../refs/ref-store.js'
import type { Leases } from '../store/leases.js'
import { findReferences } from '../uri.js'
import type { SpaceAccounting } from './accounting.js'
import type { AccessTracker } from './access-tracker.js'
import { findExpired, type ExpiryRefs } from './expiry-sweep.js'
import { HoldComputer, type HolderSource } from './holds.js'
import type { ReplicaSource } from './replicas.js'
import type { ClassBytes, RunSummary, SpaceExplanation, SpaceStatus } from './report.js'
import type { SpaceIndex } from './space-index.js'
import type { WriteWatch } from './watch.js'

/** Blobs examined for the "expired" class; beyond that the figure is a lower bound. */
const EXPIRED_SCAN_MAX = 10_000
/** JSON blobs followed upwards when explaining why a blob is kept. */
const WHY_MAX_ANCESTORS = 64

/** The parts of space management that `trove status` and `trove why` read (SpaceManager passes its own). */
export interface StatusParts {
  db: Pick<TroveDb, 'spaceState' | 'spaceLinkedBy'>
  store: { getUsage: () => { bytes: number, blobs: number } }
  leases: Pick<Leases, 'leased' | 'isLeased'>
  refs: ExpiryRefs & HolderSource & Pick<RefStore, 'holders' | 'getPin'>
  index: Pick<SpaceIndex, 'drain' | 'totals' | 'state'>
  watch: Pick<WriteWatch, 'isChanging' | 'minCopies'>
  access: Pick<AccessTracker, 'get' | 'lastWrite'>
  accounting: Pick<SpaceAccounting, 'usage' | 'limits' | 'thresholds'>
  replicas: () => ReplicaSource
}

/** What the manager knows of its runs. */
export interface RunState {
  lastRuns: RunSummary[]
  running: boolean
  metrics: SpaceStatus['metrics']
  overLimit?: SpaceStatus['overLimit']
}

export async function spaceStatus (c: StatusParts, runs: RunState): Promise<SpaceStatus> {
  const { index, db, store, accounting } = c
  await index.drain()
  const t = index.totals
  const usage = accounting.usage()
  const classified = t.protected.bytes + t.referenced.bytes + t.unreferenced.bytes
  const classifiedBlobs = t.protected.blobs + t.referenced.blobs + t.unreferenced.blobs
  const blobUsage = store.getUsage()
  const leased: ClassBytes = { blobs: 0, bytes: 0 }
  const leasedShas = c.leases.leased()
  const states = leasedShas.length > 0 ? await db.spaceState.getMany(leasedShas) : []
  for (const st of states) {
    if (st === undefined) continue
    leased.blobs++
    leased.bytes += st.s
  }
  const status: SpaceStatus = {
    limits: accounting.limits,
    usage,
    classes: {
      pinned: { ...t.protected },
      referenced: { ...t.referenced },
      unreferenced: { ...t.unreferenced },
      expired: await expiredBytes(c),
      leased,
      pending: { blobs: Math.max(0, blobUsage.blobs - classifiedBlobs), bytes: Math.max(0, blobUsage.bytes - classified) }
    },
    lastRuns: runs.lastRuns,
    running: runs.running,
    metrics: runs.metrics
  }
  const lines = accounting.thresholds()
  if (lines !== undefined) {
    status.thresholds = { ...lines }
    const { hardLimit } = accounting.limits
    if (hardLimit !== undefined) status.thresholds.hard = hardLimit
  }
  if (runs.overLimit !== undefined) status.overLimit = runs.overLimit
  return status
}

/** Bytes held only by refs that are past their expiry or ttl (the sweep will release them). */
async function expiredBytes (c: StatusParts): Promise<ClassBytes> {
  const out: ClassBytes = { blobs: 0, bytes: 0 }
  await c.refs.flushAccess()
  const expired = await findExpired(c)
  if (expired.length === 0) return out
  const keys = new Set(expired.map((e) => e.key))
  const seen = new Set<string>()
  for (const e of expired) {
    const stored = await c.refs.peek(e.key)
    if (stored === undefined) continue
    for (const sha1 of findReferences(stored.obj)) {
      if (seen.has(sha1) || seen.size >= EXPIRED_SCAN_MAX) continue
      seen.add(sha1)
      const st = await c.index.state(sha1)
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
export async function explain (c: StatusParts, sha1: string): Promise<SpaceExplanation> {
  const { index, watch, access, accounting } = c
  await index.drain()
  const st = await index.state(sha1)
  const replicas = c.replicas().replicas(sha1)
  const out: SpaceExplanation = {
    class: st === undefined ? 'unknown' : st.c === 'p' ? 'pinned' : st.c === 'r' ? 'referenced' : 'unreferenced',
    replicas,
    leased: c.leases.isLeased(sha1),
    changing: watch.isChanging(sha1),
    via: [],
    evictable: false
  }
  if (st !== undefined) {
    if (st.p !== undefined) out.priority = st.p
    if (st.m !== undefined) out.minCopies = st.m
    out.lastUsed = Math.max(st.a, access.get(sha1) ?? 0)
    out.addedAt = st.t
    if (st.c === 'u') {
      const written = Math.max(st.t, access.lastWrite(sha1) ?? 0)
      const until = written + accounting.limits.gracePeriodMs
      if (until > Date.now()) out.graceUntil = until
    }
  }
  // walk up the JSON blobs that reference this one and report what holds each of them
  const holds = new HoldComputer({ db: c.db, refs: c.refs, minCopies: watch.minCopies })
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
