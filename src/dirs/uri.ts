import { InvalidUriError } from '../errors.js'
import { isSha1Hex } from '../hex.js'
import { nameProblem } from './manifest.js'

/** `sha1dir://<manifest sha1>[/sub/path]`: a directory, or a path inside one. */
export interface ParsedDirUri {
  /** The root manifest's sha1. */
  sha1: string
  /** Path segments below the root, percent-decoded and validated; empty for the root itself. */
  path: string[]
}

export const DIR_SCHEME = 'sha1dir://'

export function isDirUri (value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(DIR_SCHEME)
}

/**
 * Parses a directory URI. The hash follows the sha1:// rules (40 lowercase hex); each path segment
 * is percent-decoded and must be a valid entry name, so `..` can never climb out. A trailing `/`
 * is allowed. Anything else is an InvalidUriError.
 */
export function parseDirUri (uri: unknown): ParsedDirUri {
  if (typeof uri !== 'string') throw new InvalidUriError('URI must be a string')
  if (!uri.startsWith(DIR_SCHEME)) throw new InvalidUriError(`not a sha1dir:// URI: ${truncate(uri)}`)
  const rest = uri.slice(DIR_SCHEME.length)
  if (rest.includes('?') || rest.includes('#')) throw new InvalidUriError(`sha1dir:// URIs take no query or fragment (percent-encode ? and # in names): ${truncate(uri)}`)
  const slash = rest.indexOf('/')
  const hash = slash >= 0 ? rest.slice(0, slash) : rest
  if (!isSha1Hex(hash)) {
    if (/^[0-9a-fA-F]{40}$/.test(hash)) throw new InvalidUriError(`sha1 in URI must be lowercase: ${truncate(uri)}`)
    if (/^[0-9a-fA-F]*$/.test(hash)) throw new InvalidUriError(`sha1 in URI has ${hash.length} hex characters, expected 40: ${truncate(uri)}`)
    throw new InvalidUriError(`sha1 in URI is not hex: ${truncate(uri)}`)
  }
  const path: string[] = []
  if (slash >= 0) {
    const segments = rest.slice(slash + 1).split('/')
    for (const [i, raw] of segments.entries()) {
      if (raw === '' && i === segments.length - 1) continue
      let seg: string
      try {
        seg = decodeURIComponent(raw)
      } catch {
        throw new InvalidUriError(`path in URI is not valid percent-encoding: ${truncate(uri)}`)
      }
      const problem = nameProblem(seg)
      if (problem !== undefined) throw new InvalidUriError(`bad path in URI (${problem}): ${truncate(uri)}`)
      path.push(seg)
    }
  }
  return { sha1: hash, path }
}

export function formatDirUri (sha1: string, path: readonly string[] = []): string {
  if (!isSha1Hex(sha1)) throw new InvalidUriError(`not a sha1: ${truncate(sha1)}`)
  return DIR_SCHEME + sha1 + path.map(s => '/' + encodeURIComponent(s)).join('')
}

function truncate (s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
