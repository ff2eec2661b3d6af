import { RefNotFoundError, isError } from '../errors.js'
import type { RefRecord, RefStore } from '../refs/ref-store.js'
import { parseDuration } from '../units.js'
import { EXPIRY_BATCH } from './constants.js'

export interface ExpiredRef {
  key: string
  reason: 'expires' | 'ttl'
  /** When it expired (ms). */
  at: number
}

/** What the sweep reads and removes through the ref store. */
export type ExpiryRefs = Pick<RefStore, 'expiredBy' | 'peek' | 'keys' | 'accessedKeys' | 'lastAccess' | 'flushAccess' | 'rm'>

/** Author recorded in ref history for removals made by the sweep. */
export const SWEEP_AUTHOR = 'trove-expiry'

export interface FindOptions {
  /**
   * Scan every ref for a ttl instead of only those with a recorded access time. A ttl ref set
   * by a process killed before it flushed its access times has none; the periodic reconcile
   * finds those, so that a run costs what it removes, not what the store holds.
   */
  full?: boolean
}

/**
 * Refs past their `expires`, and refs with a `ttl` not used for longer than it. Expiries come
 * from the ref store's time index (a range read); ttl refs from its access-time index (every
 * ttl ref gets an entry when set, flushed in batches). Refs are read with `peek`, not `get`,
 * which would count as a use.
 */
export async function findExpired (components: { refs: ExpiryRefs }, now = Date.now(), options: FindOptions = {}): Promise<ExpiredRef[]> {
  const { refs } = components
  const out: ExpiredRef[] = []
  const seen = new Set<string>()
  for await (const key of refs.expiredBy(now)) {
    const stored = await refs.peek(key)
    if (stored?.meta.expires === undefined || seen.has(key)) continue
    seen.add(key)
    out.push({ key, reason: 'expires', at: Date.parse(stored.meta.expires) })
  }
  const candidates = options.full === true ? refs.keys() : refs.accessedKeys()
  for await (const key of candidates) {
    if (seen.has(key)) continue
    const stored = await refs.peek(key)
    if (stored?.meta?.ttl === undefined) continue
    const at = await ttlDeadline(refs, key, stored)
    if (at !== undefined && at <= now) out.push({ key, reason: 'ttl', at })
  }
  return out
}

async function ttlDeadline (refs: ExpiryRefs, key: string, stored: RefRecord): Promise<number | undefined> {
  let ttl: number
  try {
    ttl = parseDuration(stored.meta.ttl as string)
  } catch {
    return undefined
  }
  const last = await refs.lastAccess(key) ?? Date.parse(stored.setAt)
  return last + ttl
}

/** Flushes the refs' access times, then finds what has expired by `now`. */
export async function expiredNow (components: { refs: ExpiryRefs }, now = Date.now(), options: FindOptions = {}): Promise<ExpiredRef[]> {
  await components.refs.flushAccess()
  return findExpired(components, now, options)
}

/**
 * Removes expired refs through the ref store (so history records it and edges go in the same
 * batch); their blobs lose that hold through the usual reclassification. Each ref is checked
 * again right before its removal: one set again meanwhile is no longer expired and stays.
 * Returns the refs removed.
 */
export async function removeExpired (components: { refs: ExpiryRefs }, expired: ExpiredRef[], now: number): Promise<ExpiredRef[]> {
  const { refs } = components
  const removed: ExpiredRef[] = []
  for (let i = 0; i < expired.length; i += EXPIRY_BATCH) {
    for (const e of expired.slice(i, i + EXPIRY_BATCH)) {
      const stored = await refs.peek(e.key)
      if (stored === undefined) continue
      const still = e.reason === 'expires'
        ? stored.meta.expires !== undefined && Date.parse(stored.meta.expires) <= now
        : stored.meta.ttl !== undefined && ((await ttlDeadline(refs, e.key, stored)) ?? Infinity) <= now
      if (!still) continue
      try {
        await refs.rm(e.key, { by: SWEEP_AUTHOR })
        removed.push(e)
      } catch (err) {
        // removed by someone else in between: nothing left to do
        if (!isError(err, RefNotFoundError)) throw err
      }
    }
  }
  return removed
}

/** Finds and removes expired refs: the sweep at the start of a run, and the reconcile's full one. */
export async function sweepExpired (components: { refs: ExpiryRefs }, now = Date.now(), options: FindOptions = {}): Promise<ExpiredRef[]> {
  return removeExpired(components, await expiredNow(components, now, options), now)
}
