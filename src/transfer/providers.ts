/**
 * Provider records kept at most (a bounded table: oldest entries go first). A record costs about
 * 150 bytes of heap (sha1 key, entry, one peer), so the table stays near 8 MiB; at 200,000 records
 * of the earlier layout (~365 bytes each) an announce flood alone took the node's RSS to 3.4x idle.
 */
export const MAX_PROVIDER_RECORDS = 50_000
/**
 * Records one peer may hold: a peer that announces more (a flood, or a huge add) is not recorded
 * beyond this until some of its records expire or go, so no peer can push the others' records out.
 * What is not recorded can still be found by asking connected peers with have.
 */
export const MAX_PROVIDER_RECORDS_PER_PEER = 10_000
/** An announcement is trusted this long; peers re-announce nothing, so content found later is asked for. */
export const PROVIDER_TTL_MS = 60 * 60 * 1000

/** One blob's providers: the first inline (the common case), more in a map. */
interface Entry {
  peer: string | undefined
  expires: number
  more?: Map<string, number>
  size?: number
}

export interface ProviderLimits {
  maxRecords?: number
  maxPerPeer?: number
  ttlMs?: number
}

/**
 * Which peers said they hold which blobs (from announcements and have-answers). Bounded in total
 * and per peer, and expiring: it is a hint for choosing providers, never trusted for content.
 */
export class ProviderTable {
  private readonly table = new Map<string, Entry>()
  /** Records per peer, with the one copy of its id that records share (a flood sends a fresh string per message). */
  private readonly perPeer = new Map<string, { id: string, n: number }>()
  private readonly maxRecords: number
  private readonly maxPerPeer: number
  private readonly ttlMs: number

  constructor (limits: ProviderLimits = {}) {
    this.maxRecords = limits.maxRecords ?? MAX_PROVIDER_RECORDS
    this.maxPerPeer = limits.maxPerPeer ?? MAX_PROVIDER_RECORDS_PER_PEER
    this.ttlMs = limits.ttlMs ?? PROVIDER_TTL_MS
  }

  add (sha1: string, peerId: string, size?: number, now = Date.now()): void {
    const expires = now + this.ttlMs
    let entry = this.table.get(sha1)
    const known = entry !== undefined && (entry.peer === peerId || entry.more?.has(peerId) === true)
    let count = this.perPeer.get(peerId)
    if (!known && (count?.n ?? 0) >= this.maxPerPeer) return
    if (count === undefined) this.perPeer.set(peerId, count = { id: peerId, n: 0 })
    const peer = count.id
    if (entry === undefined) {
      entry = { peer, expires }
    } else {
      // re-insert so Map order is recency order and eviction drops the stalest
      this.table.delete(sha1)
      if (entry.peer === peer) entry.expires = expires
      else if (entry.peer === undefined) { entry.peer = peer; entry.expires = expires }
      else (entry.more ??= new Map()).set(peer, expires)
    }
    if (!known) count.n++
    if (size !== undefined) entry.size = size
    this.table.set(sha1, entry)
    while (this.table.size > this.maxRecords) {
      const oldest = this.table.entries().next().value
      if (oldest === undefined) break
      this.drop(oldest[0], oldest[1])
    }
  }

  remove (sha1: string, peerId: string): void {
    const entry = this.table.get(sha1)
    if (entry === undefined) return
    if (entry.peer === peerId) {
      entry.peer = undefined
      this.uncount(peerId)
    } else if (entry.more?.delete(peerId) === true) {
      this.uncount(peerId)
    }
    if (entry.peer === undefined && (entry.more === undefined || entry.more.size === 0)) this.table.delete(sha1)
  }

  /** Peers believed to hold the blob, unexpired. */
  get (sha1: string, now = Date.now()): string[] {
    const entry = this.table.get(sha1)
    if (entry === undefined) return []
    const out: string[] = []
    if (entry.peer !== undefined) {
      if (entry.expires > now) out.push(entry.peer)
      else this.remove(sha1, entry.peer)
    }
    for (const [peer, expires] of entry.more ?? []) {
      if (expires > now) out.push(peer)
      else this.remove(sha1, peer)
    }
    return out
  }

  /** Known copies elsewhere (for replica-aware eviction). */
  replicas (sha1: string): number {
    return this.get(sha1).length
  }

  forgetPeer (peerId: string): void {
    if (!this.perPeer.has(peerId)) return
    for (const [sha1, entry] of this.table) {
      if (entry.peer === peerId || entry.more?.has(peerId) === true) this.remove(sha1, peerId)
    }
    this.perPeer.delete(peerId)
  }

  get size (): number {
    return this.table.size
  }

  /** Whether `peerId` may add records now (it holds less than its share). */
  accepts (peerId: string): boolean {
    return this.recordsOf(peerId) < this.maxPerPeer
  }

  /** Records `peerId` holds now. */
  recordsOf (peerId: string): number {
    return this.perPeer.get(peerId)?.n ?? 0
  }

  private drop (sha1: string, entry: Entry): void {
    this.table.delete(sha1)
    if (entry.peer !== undefined) this.uncount(entry.peer)
    for (const peer of entry.more?.keys() ?? []) this.uncount(peer)
  }

  private uncount (peer: string): void {
    const count = this.perPeer.get(peer)
    if (count === undefined) return
    if (--count.n <= 0) this.perPeer.delete(peer)
  }
}
