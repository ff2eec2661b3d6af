import { InvalidArgumentError } from './errors.js'

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4
}

/** Parses `500MB`, `10GiB`, `1.5 GB`, `123` (bytes) into a byte count. */
export function parseSize (input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input
    throw new InvalidArgumentError(`size must be a non-negative integer, got ${input}`)
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input)
  const unit = m?.[2].toLowerCase()
  if (m === null || unit === undefined || !(unit in SIZE_UNITS)) {
    throw new InvalidArgumentError(`invalid size "${input}" (examples: 500MB, 10GiB, 1048576)`)
  }
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[unit])
  // "99999999999999999999TB" parses, but a count past 2^53 is no longer exact
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`size "${input}" is too large`)
  return bytes
}

export function formatSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000
}

/** Parses `7d`, `12h`, `30m`, `45s`, `500ms`, `1w`, or combinations like `1d12h`, into ms. */
export function parseDuration (input: string): number {
  const s = input.trim()
  if (s === '' || !/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(s)) {
    throw new InvalidArgumentError(`invalid duration "${input}" (examples: 7d, 12h, 30m, 1d12h)`)
  }
  let total = 0
  for (const [, n, , unit] of s.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d|w)/g)) {
    total += Number(n) * DURATION_UNITS[unit]
  }
  return Math.round(total)
}

export function isDuration (input: string): boolean {
  try {
    parseDuration(input)
    return true
  } catch {
    return false
  }
}

/**
 * An expiry given as an ISO time or as a duration from now (`7d`), returned as an ISO string.
 */
export function parseExpires (input: string, now = Date.now()): string {
  if (isDuration(input)) return new Date(now + parseDuration(input)).toISOString()
  const t = Date.parse(input)
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(input)) {
    throw new InvalidArgumentError(`invalid expiry "${input}" (an ISO time like 2026-12-31T00:00:00Z, or a duration like 7d)`)
  }
  return new Date(t).toISOString()
}
