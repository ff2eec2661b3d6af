/**
 * What the space index records per local blob. Derived from the edges, pins and links (never the
 * other way round), so it can always be rebuilt from them.
 */
export interface BlobState {
  /** Hold class: 'p' never evicted (pinned, pinned ref, reachable from either), 'r' held by refs, 'u' unheld. */
  c: HoldCode
  /** Strongest priority among the refs that hold it (class 'r'). */
  p?: number
  /** Largest minCopies asked by a ref that holds it. */
  m?: number
  /** Size in bytes. */
  s: number
  /** When it was stored here (ms). */
  t: number
  /** Last use (ms): store, read or serve. */
  a: number
  /** Its key in the eviction index (absent for class 'p'). */
  k?: string
}

export type HoldCode = 'p' | 'r' | 'u'

/** What an entry of the eviction index carries, so planning reads nothing else. */
export interface EvictValue {
  s: number
  t: number
  m?: number
}

export interface Hold {
  c: HoldCode
  p?: number
  m?: number
}

export const CLASS_NAMES: Record<HoldCode, 'protected' | 'referenced' | 'unreferenced'> = {
  p: 'protected',
  r: 'referenced',
  u: 'unreferenced'
}

const TIME_DIGITS = 15
const PRIO_DIGITS = 17
const PRIO_OFFSET = 2n ** 53n

/**
 * Eviction index key. LevelDB keeps keys sorted, so reading the index from the start yields
 * blobs in eviction order: unheld ('1') before held ('2'), lower priority first, least recently
 * used first. Priorities are offset so negative ones sort below zero as text.
 */
export function evictKey (sha1: string, hold: Hold, lastAccess: number): string | undefined {
  const a = String(Math.max(0, Math.floor(lastAccess))).padStart(TIME_DIGITS, '0')
  if (hold.c === 'u') return `1${a}${sha1}`
  if (hold.c === 'r') return `2${(BigInt(hold.p ?? 0) + PRIO_OFFSET).toString().padStart(PRIO_DIGITS, '0')}${a}${sha1}`
  return undefined
}

export interface ParsedEvictKey {
  c: 'u' | 'r'
  p?: number
  a: number
  sha1: string
}

export function parseEvictKey (key: string): ParsedEvictKey {
  if (key[0] === '1') {
    return { c: 'u', a: Number(key.slice(1, 1 + TIME_DIGITS)), sha1: key.slice(1 + TIME_DIGITS) }
  }
  const p = Number(BigInt(key.slice(1, 1 + PRIO_DIGITS)) - PRIO_OFFSET)
  const a = Number(key.slice(1 + PRIO_DIGITS, 1 + PRIO_DIGITS + TIME_DIGITS))
  return { c: 'r', p, a, sha1: key.slice(1 + PRIO_DIGITS + TIME_DIGITS) }
}

export function sameHold (a: Hold | undefined, b: Hold | undefined): boolean {
  return a?.c === b?.c && a?.p === b?.p && a?.m === b?.m
}

export interface ClassTotals {
  protected: { blobs: number, bytes: number }
  referenced: { blobs: number, bytes: number }
  unreferenced: { blobs: number, bytes: number }
}

export function emptyTotals (): ClassTotals {
  return { protected: { blobs: 0, bytes: 0 }, referenced: { blobs: 0, bytes: 0 }, unreferenced: { blobs: 0, bytes: 0 } }
}
