import type { TroveDb } from '../db.js'
import { linksFrom, parseLinkKey } from '../db/keys.js'
import type { EdgeValue } from '../db/schema.js'
import type { RefStore } from '../refs/ref-store.js'
import { MAX_LINK_DEPTH } from './constants.js'
import type { Hold } from './state.js'

export const UNHELD: Hold = Object.freeze({ c: 'u' })
export const PROTECTED: Hold = Object.freeze({ c: 'p' })

/** The stronger of two holds: protected beats held beats unheld; among held, the higher priority and minCopies. */
export function combine (a: Hold, b: Hold): Hold {
  if (a.c === 'p' || b.c === 'p') return PROTECTED
  if (a.c === 'u') return b
  if (b.c === 'u') return a
  const h: Hold = { c: 'r', p: Math.max(a.p ?? 0, b.p ?? 0) }
  const m = Math.max(a.m ?? 0, b.m ?? 0)
  if (m > 0) h.m = m
  return h
}

export function edgeHold (edge: EdgeValue, minCopies: number | undefined): Hold {
  if (edge.pin) return PROTECTED
  const h: Hold = { c: 'r', p: edge.priority }
  if (minCopies !== undefined) h.m = minCopies
  return h
}

/** What holds a blob directly, as the ref store answers it: its pin and the refs' edges. */
export type HolderSource = Pick<RefStore, 'pinned' | 'holdersMany' | 'holderBlocks'>

export interface HoldSource {
  /** The links between JSON blobs (space's own tables). */
  db: Pick<TroveDb, 'spaceLinkedBy'>
  refs: HolderSource
  minCopies: Map<string, number>
  /** false when the store has no links at all: parents need not be looked up. */
  links?: boolean
}

/**
 * Computes what holds blobs: their pin, the refs whose edges point at them, and (transitively)
 * whatever holds a JSON blob that references them. Memoized for one pass, so a manifest shared by
 * a thousand blobs is evaluated once. A blob's parents need not be stored here: a ref to a JSON
 * blob keeps what that blob referenced even after the JSON blob itself was evicted.
 */
export class HoldComputer {
  private readonly memo = new Map<string, Hold>()
  private readonly inProgress = new Set<string>()
  /** Direct holds read ahead for a batch (prefetch). */
  private readonly directs = new Map<string, Hold>()

  constructor (private readonly src: HoldSource) {}

  async holdOf (sha1: string): Promise<Hold> {
    return (await this.walk(sha1, 0)).hold
  }

  /**
   * `open` lists the blobs still being computed that this result leaned on (a cycle, such as a
   * manifest and its blob holding each other). Such a result is complete only once the walk is
   * back at that blob, so it is memoized only when nothing is left open.
   */
  private async walk (sha1: string, depth: number): Promise<{ hold: Hold, open: Set<string> }> {
    const known = this.memo.get(sha1)
    if (known !== undefined) return { hold: known, open: new Set() }
    if (this.inProgress.has(sha1)) return { hold: UNHELD, open: new Set([sha1]) }
    // deeper than any real nesting: keep it rather than walk on
    if (depth > MAX_LINK_DEPTH) return { hold: PROTECTED, open: new Set() }
    this.inProgress.add(sha1)
    const open = new Set<string>()
    let hold = await this.direct(sha1)
    if (hold.c !== 'p') {
      for (const parent of await this.parents(sha1)) {
        const r = await this.walk(parent, depth + 1)
        for (const o of r.open) open.add(o)
        hold = combine(hold, r.hold)
        if (hold.c === 'p') break
      }
    }
    this.inProgress.delete(sha1)
    open.delete(sha1)
    if (open.size === 0) this.memo.set(sha1, hold)
    return { hold, open }
  }

  /**
   * Reads the pins and edges of a batch of blobs ahead: one pin look-up for the lot and one edge
   * iterator for the lot (holdersMany) instead of a look-up and an iterator per blob, which with
   * thousands of freshly fetched blobs per second was the largest item of a reclassification.
   */
  async prefetch (sha1s: string[]): Promise<void> {
    const { refs, minCopies } = this.src
    const todo = [...new Set(sha1s)].filter((s) => !this.directs.has(s))
    if (todo.length === 0) return
    const pinned = await refs.pinned(todo)
    const holders = await refs.holdersMany(todo.filter((_, i) => !pinned[i]))
    for (const [i, sha1] of todo.entries()) {
      let hold = pinned[i] ? PROTECTED : UNHELD
      for (const h of holders.get(sha1) ?? []) hold = combine(hold, edgeHold(h, minCopies.get(h.key)))
      this.directs.set(sha1, hold)
    }
  }

  /** Pin and edges of the blob itself, without links. */
  async direct (sha1: string): Promise<Hold> {
    const known = this.directs.get(sha1)
    if (known !== undefined) return known
    const { refs, minCopies } = this.src
    if ((await refs.pinned([sha1]))[0]) return PROTECTED
    let hold = UNHELD
    // stops reading at the first pinned ref: nothing holds more strongly
    for await (const holders of refs.holderBlocks(sha1)) {
      for (const h of holders) {
        hold = combine(hold, edgeHold(h, minCopies.get(h.key)))
        if (hold.c === 'p') return hold
      }
    }
    return hold
  }

  async parents (sha1: string): Promise<string[]> {
    if (this.src.links === false) return []
    return parentsOf(this.src.db, sha1)
  }
}

/** The JSON blobs (manifests, documents) that reference `sha1`. */
export async function parentsOf (db: Pick<TroveDb, 'spaceLinkedBy'>, sha1: string): Promise<string[]> {
  const keys = await db.spaceLinkedBy.keys(linksFrom(sha1)).all()
  return keys.map((k) => parseLinkKey(k).to)
}

export async function childrenOf (db: Pick<TroveDb, 'spaceLinks'>, sha1: string): Promise<string[]> {
  const keys = await db.spaceLinks.keys(linksFrom(sha1)).all()
  return keys.map((k) => parseLinkKey(k).to)
}

/** Whether any JSON blob references another (one key read): most stores have few or none. */
export async function anyLinks (db: Pick<TroveDb, 'spaceLinks'>): Promise<boolean> {
  return (await db.spaceLinks.keys({ limit: 1 }).all()).length > 0
}
