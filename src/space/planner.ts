import type { TroveDb } from '../db.js'
import { UNHELD_EVICT_KEYS, evictKey, parseEvictKey } from '../db/keys.js'
import type { EvictValue } from '../db/schema.js'
import type { Leases } from '../store/leases.js'
import type { AccessTracker } from './access-tracker.js'
import { LRU_BUCKET_MS, REPLICA_GROUP_MAX } from './constants.js'
import { KeyHeap } from './heap.js'
import type { ReplicaSource } from './replicas.js'
import type { WriteWatch } from './watch.js'

/** One blob the planner would evict, in order, with why it goes. */
export interface PlanEntry {
  sha1: string
  /** Its eviction index key at planning time (the run deletes it only if that is still its key). */
  key: string
  size: number
  class: 'unreferenced' | 'referenced'
  /** Strongest priority of the refs holding it (class "referenced"). */
  priority?: number
  lastUsed: number
  addedAt: number
  minCopies?: number
  /** Connected peers known to hold it. */
  replicas: number
  reason: string
}

export interface SkipCount {
  blobs: number
  bytes: number
}

/** What the planner passed over and why: it explains a run that could not reach its target. */
export interface PlanSkips {
  leased: SkipCount
  grace: SkipCount
  minCopies: SkipCount
  /** Being reclassified (a ref or pin changed a moment ago): decided at the next run. */
  changing: SkipCount
  /**
   * Set when the plan stopped at a blob in its grace period (see Planner.candidates): the blob, its
   * size and when its grace ends (ms), which is when the next run is due.
   */
  deferred?: { sha1: string, bytes: number, until: number }
}

/** Why the planner passes a blob over. */
export type SkipReason = 'leased' | 'grace' | 'minCopies' | 'changing'

export function emptySkips (): PlanSkips {
  return { leased: { blobs: 0, bytes: 0 }, grace: { blobs: 0, bytes: 0 }, minCopies: { blobs: 0, bytes: 0 }, changing: { blobs: 0, bytes: 0 } }
}

export interface PlannerComponents {
  db: TroveDb
  leases: Pick<Leases, 'isLeased'>
  watch: WriteWatch
  access: AccessTracker
  replicas: () => ReplicaSource
}

export interface PlanOptions {
  /** Stop before the first blob a ref holds (garbage collection without a size limit). */
  onlyUnreferenced?: boolean
  gracePeriodMs: number
  now?: number
}

interface Entry {
  /** Sort key: the index key, or for a blob used since its last flush, the key it will get. */
  key: string
  /** Its key in the index now. */
  indexKey: string
  sha1: string
  c: 'u' | 'r'
  p?: number
  a: number
  v: EvictValue
}

const READ_AHEAD = 256

/**
 * Yields eviction candidates in order by reading the eviction index from its start: the cost is
 * proportional to what is read (what will be evicted, plus what is skipped), never to the size of
 * the store. Two corrections are applied on the fly: a blob used since its last flush is moved to
 * its true place (a heap merged with the index), and among equal candidates (same class, same
 * priority, last used in the same hour) those that connected peers also hold go first.
 *
 * A blob in its grace period is deferred, never jumped over: when the plan frees bytes (a size
 * limit), it ends at the first such blob, since everything after it in the index ranks higher
 * (issue 13 item 2: fresh unreferenced adds got every referenced blob evicted). The run is due
 * again when that grace ends (`skips.deferred`). Blobs kept for good (minCopies) or for a moment
 * (leased, being reclassified) are passed over as before. A run that takes every unreferenced blob
 * (no size limit) ranks nothing against anything, so it passes grace blobs over too.
 */
export class Planner {
  constructor (private readonly components: PlannerComponents) {}

  async * candidates (skips: PlanSkips, options: PlanOptions): AsyncGenerator<PlanEntry> {
    const now = options.now ?? Date.now()
    const replicas = this.components.replicas()
    let group: Array<{ e: Entry, r: number }> = []
    let groupId = ''
    const flush = function * (): Generator<PlanEntry> {
      // a stable sort: replicated first, LRU order otherwise kept
      group.sort((x, y) => (x.r > 0 ? 0 : 1) - (y.r > 0 ? 0 : 1))
      for (const { e, r } of group) yield toPlanEntry(e, r, now)
      group = []
    }
    for await (const e of this.merged(options)) {
      const why = this.skipReason(e, replicas, now, options.gracePeriodMs)
      if (why !== undefined) {
        skips[why].blobs++
        skips[why].bytes += e.v.s
        if (why === 'grace' && options.onlyUnreferenced !== true) {
          skips.deferred = { sha1: e.sha1, bytes: e.v.s, until: this.writtenAt(e) + options.gracePeriodMs }
          break
        }
        continue
      }
      const id = `${e.c}${e.p ?? ''}:${Math.floor(e.a / LRU_BUCKET_MS)}`
      if (id !== groupId || group.length >= REPLICA_GROUP_MAX) {
        yield * flush()
        groupId = id
      }
      group.push({ e, r: replicas.replicas(e.sha1) })
    }
    yield * flush()
  }

  /** Why a blob cannot go now, if it cannot. Also the synchronous last check before its batch. */
  skipReason (e: { sha1: string, c: 'u' | 'r', v: EvictValue }, replicas: ReplicaSource, now: number, gracePeriodMs: number): SkipReason | undefined {
    const { watch, leases } = this.components
    if (watch.isChanging(e.sha1)) return 'changing'
    if (leases.isLeased(e.sha1)) return 'leased'
    if (e.c === 'u' && now - this.writtenAt(e) < gracePeriodMs) return 'grace'
    if (e.v.m !== undefined && replicas.replicas(e.sha1) < e.v.m) return 'minCopies'
    return undefined
  }

  /** When an unheld blob was last written: its grace period runs from there. */
  private writtenAt (e: { sha1: string, v: EvictValue }): number {
    return Math.max(e.v.t, this.components.access.lastWrite(e.sha1) ?? 0)
  }

  /** The index in key order, with blobs used since their last flush moved to where they belong. */
  private async * merged (options: PlanOptions): AsyncGenerator<Entry> {
    const { db, access } = this.components
    const deferred = new KeyHeap<Entry>()
    const it = db.spaceEvict.iterator(options.onlyUnreferenced === true ? UNHELD_EVICT_KEYS : {})
    try {
      for (;;) {
        const batch = await it.nextv(READ_AHEAD) as Array<[string, EvictValue]>
        if (batch.length === 0) break
        for (const [key, v] of batch) {
          const k = parseEvictKey(key)
          const used = access.get(k.sha1)
          if (used !== undefined && used > k.a) {
            deferred.push({ key: evictKey(k.sha1, k, used) as string, indexKey: key, sha1: k.sha1, c: k.c, p: k.p, a: used, v })
            continue
          }
          while (deferred.size > 0 && (deferred.peek() as Entry).key < key) yield deferred.pop() as Entry
          yield { key, indexKey: key, sha1: k.sha1, c: k.c, p: k.p, a: k.a, v }
        }
      }
    } finally {
      await it.close()
    }
    while (deferred.size > 0) yield deferred.pop() as Entry
  }
}

function toPlanEntry (e: Entry, replicas: number, now: number): PlanEntry {
  const out: PlanEntry = {
    sha1: e.sha1,
    key: e.indexKey,
    size: e.v.s,
    class: e.c === 'u' ? 'unreferenced' : 'referenced',
    lastUsed: e.a,
    addedAt: e.v.t,
    replicas,
    reason: ''
  }
  if (e.p !== undefined) out.priority = e.p
  if (e.v.m !== undefined) out.minCopies = e.v.m
  const used = `last used ${ago(now - e.a)} ago`
  const copies = replicas > 0 ? `; ${replicas} peer${replicas === 1 ? '' : 's'} hold${replicas === 1 ? 's' : ''} a copy` : ''
  out.reason = e.c === 'u'
    ? `no ref or pin holds it; ${used}${copies}`
    : `strongest ref priority ${e.p ?? 0}, the lowest left; ${used}${copies}`
  return out
}

export function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s}s`
  const m = Math.round(s / 60)
  if (m < 120) return `${m}m`
  const h = Math.round(m / 60)
  if (h < 48) return `${h}h`
  return `${Math.round(h / 24)}d`
}
