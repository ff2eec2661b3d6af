/** A satisfiable byte range: `start` to `end` inclusive, as in Content-Range. */
export interface ByteRange {
  start: number
  end: number
}

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'range', range: ByteRange }
  | { kind: 'unsatisfiable' }

/**
 * Interprets a Range header against a blob of `size` bytes. One range only (`bytes=a-b`, `a-`,
 * `-n`). A header that is not a single bytes range, including a multi-range list, is ignored
 * and the whole blob is sent, as RFC 9110 section 14.2 allows; a well-formed range that misses
 * the blob entirely is unsatisfiable (416).
 */
export function parseRange (header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null) return { kind: 'none' }
  const [, a, b] = m
  if (a === '' && b === '') return { kind: 'none' }
  if (a === '') {
    // suffix range: the last n bytes
    const n = Number(b)
    if (!Number.isSafeInteger(n)) return { kind: 'none' }
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'range', range: { start: Math.max(0, size - n), end: size - 1 } }
  }
  const start = Number(a)
  if (!Number.isSafeInteger(start)) return { kind: 'none' }
  if (start >= size) return { kind: 'unsatisfiable' }
  let end = size - 1
  if (b !== '') {
    const last = Number(b)
    if (!Number.isSafeInteger(last)) return { kind: 'none' }
    // a last position before the first makes the header invalid, which means: ignore it
    if (last < start) return { kind: 'none' }
    end = Math.min(last, size - 1)
  }
  return { kind: 'range', range: { start, end } }
}
