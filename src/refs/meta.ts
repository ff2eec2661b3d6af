import type { RefMeta } from '../db/schema.js'
import { InvalidArgumentError } from '../errors.js'
import { parseDuration } from '../units.js'

export type { RefMeta } from '../db/schema.js'

const ISO_DATE_START = /^\d{4}-\d{2}-\d{2}/

/** Validates the fields Trove interprets; returns a copy with them normalized. */
export function normalizeMeta (meta: unknown): RefMeta {
  if (meta === undefined || meta === null) return {}
  if (typeof meta !== 'object' || Array.isArray(meta)) throw new InvalidArgumentError('ref meta must be a JSON object')
  const out: RefMeta = { ...(meta as RefMeta) }
  if (out.priority !== undefined) {
    if (!Number.isSafeInteger(out.priority)) throw new InvalidArgumentError(`meta.priority must be an integer, got ${JSON.stringify(out.priority)}`)
  }
  if (out.pin !== undefined && typeof out.pin !== 'boolean') {
    throw new InvalidArgumentError(`meta.pin must be true or false, got ${JSON.stringify(out.pin)}`)
  }
  if (out.expires !== undefined) {
    // Date.parse alone takes "1" or "12" as dates in 2001; an expiry must at least start like an ISO date
    const t = typeof out.expires === 'string' && ISO_DATE_START.test(out.expires) ? Date.parse(out.expires) : Number.NaN
    if (Number.isNaN(t)) throw new InvalidArgumentError(`meta.expires must be an ISO time, got ${JSON.stringify(out.expires)}`)
    out.expires = new Date(t).toISOString()
  }
  if (out.ttl !== undefined) {
    if (typeof out.ttl !== 'string') throw new InvalidArgumentError(`meta.ttl must be a duration like "7d", got ${JSON.stringify(out.ttl)}`)
    parseDuration(out.ttl)
  }
  return out
}

export function priorityOf (meta: RefMeta): number {
  return meta.priority ?? 0
}
