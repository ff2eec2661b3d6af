import type { Eviction } from '../ops.js'
import { MAX_EVICTIONS_HEADER_BYTES } from './constants.js'

/** The EVICTIONS_HEADER value: percent-encoded JSON, shortened to counts when the lists would make it too long. */
export function encodeEvictions (evictions: Eviction[]): string {
  const full = encodeURIComponent(JSON.stringify(evictions))
  if (full.length <= MAX_EVICTIONS_HEADER_BYTES) return full
  return encodeURIComponent(JSON.stringify(evictions.map((e) => ({ ...e, blobs: [], expiredRefs: [] }))))
}

/** Reads an EVICTIONS_HEADER value; anything unreadable is no news rather than a failed download. */
export function decodeEvictions (value: string | null): Eviction[] {
  if (value === null || value === '') return []
  try {
    const parsed = JSON.parse(decodeURIComponent(value)) as unknown
    return Array.isArray(parsed) ? parsed as Eviction[] : []
  } catch {
    return []
  }
}
