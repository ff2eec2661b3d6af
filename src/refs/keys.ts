import { InvalidKeyError } from '../errors.js'
import { MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH } from './constants.js'

const SEGMENT = /^[A-Za-z0-9._@+=,~-]+$/

/**
 * A ref key is a path like `lab/mouse7/spike-sorting`: non-empty segments of letters, digits and
 * `._@+=,~-`, joined by single slashes. The separator byte of composite index keys (NUL,
 * src/db/keys.ts) can therefore never appear in a key.
 */
export function assertKey (key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new InvalidKeyError('ref key must be a non-empty string')
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`ref key is longer than ${MAX_KEY_LENGTH} characters`)
  const segments = key.split('/')
  for (const segment of segments) {
    if (segment === '') throw new InvalidKeyError(`ref key has an empty path segment (leading, trailing or double "/"): ${key}`)
    if (segment === '.' || segment === '..') throw new InvalidKeyError(`ref key may not contain "." or ".." segments: ${key}`)
    if (segment.length > MAX_SEGMENT_LENGTH) throw new InvalidKeyError(`ref key segment longer than ${MAX_SEGMENT_LENGTH} characters: ${key}`)
    if (!SEGMENT.test(segment)) throw new InvalidKeyError(`ref key may only use letters, digits, "/" and ._@+=,~- : ${key}`)
  }
  return key
}

/** A prefix for listing: a key, or a key with a trailing slash, or empty for everything. */
export function assertPrefix (prefix: unknown): string {
  if (prefix === undefined || prefix === '') return ''
  if (typeof prefix !== 'string') throw new InvalidKeyError('prefix must be a string')
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  // a prefix may end mid-segment ("lab/mou"), so only the full segments before the last are checked strictly
  assertKey(trimmed)
  return prefix
}
