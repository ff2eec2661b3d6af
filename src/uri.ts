import { DIR_SCHEME, parseDirUri } from './dirs/uri.js'
import { InvalidUriError } from './errors.js'
import { isSha1Hex } from './hex.js'

/** Multihash code of sha1 in the multiformats table. */
export const SHA1_MULTIHASH_CODE = 0x11
/** Multicodec code of raw bytes: a blob is opaque, so its CID uses the raw codec. */
export const RAW_CODEC = 0x55
export const SHA1_HEX_LENGTH = 40
/** Length of a sha1 digest in bytes: how hashes travel in the wire protocols. */
export const SHA1_BYTES = 20

export interface ParsedUri {
  /** 40 lowercase hex characters. */
  sha1: string
  /** File name after the hash (`sha1://<hash>/<name>`), if any; informational only. */
  name?: string
  /** `?label=` value, if any; informational only. */
  label?: string
}

const ANY_HEX40 = /^[0-9a-fA-F]{40}$/

export { isSha1Hex }

/** Validates a bare hash (used by the HTTP API's path parameters and the CLI). */
export function assertSha1Hex (value: string): string {
  // callers in plain JS (or JSON bodies) can pass anything; that must be an InvalidUriError, not a TypeError
  if (typeof value !== 'string') throw new InvalidUriError('sha1 must be a string')
  if (isSha1Hex(value)) return value
  if (ANY_HEX40.test(value)) throw new InvalidUriError(`sha1 must be lowercase hex: ${value}`)
  throw new InvalidUriError(`not a sha1 (expected 40 lowercase hex characters): ${truncate(value)}`)
}

/**
 * Parses `sha1://<40 lowercase hex>[/<file name>][?label=...]`. Anything else is an
 * InvalidUriError naming what is wrong; this never throws anything else.
 */
export function parseUri (uri: unknown): ParsedUri {
  if (typeof uri !== 'string') throw new InvalidUriError('URI must be a string')
  if (!uri.startsWith('sha1://')) {
    throw new InvalidUriError(`not a sha1:// URI: ${truncate(uri)}`)
  }
  let rest = uri.slice('sha1://'.length)
  let label: string | undefined
  const q = rest.indexOf('?')
  if (q >= 0) {
    const params = new URLSearchParams(rest.slice(q + 1))
    label = params.get('label') ?? undefined
    rest = rest.slice(0, q)
  }
  const slash = rest.indexOf('/')
  const hash = slash >= 0 ? rest.slice(0, slash) : rest
  let name = slash >= 0 ? rest.slice(slash + 1) : undefined
  if (!isSha1Hex(hash)) {
    if (ANY_HEX40.test(hash)) throw new InvalidUriError(`sha1 in URI must be lowercase: ${truncate(uri)}`)
    if (/^[0-9a-fA-F]*$/.test(hash)) {
      throw new InvalidUriError(`sha1 in URI has ${hash.length} hex characters, expected 40: ${truncate(uri)}`)
    }
    throw new InvalidUriError(`sha1 in URI is not hex: ${truncate(uri)}`)
  }
  if (name !== undefined) {
    try {
      name = decodeURIComponent(name)
    } catch {
      throw new InvalidUriError(`file name in URI is not valid percent-encoding: ${truncate(uri)}`)
    }
    if (name === '') name = undefined
  }
  const parsed: ParsedUri = { sha1: hash }
  if (name !== undefined) parsed.name = name
  if (label !== undefined) parsed.label = label
  return parsed
}

/**
 * Accepts a URI or a bare 40-hex hash, returning the hash. A `sha1dir://<hash>` names its root
 * manifest blob (what `pin`, `why` and `unpin` act on); a path inside a directory is not one blob
 * this can name without reading the directory, so it is refused here.
 */
export function toSha1 (uriOrHash: string): string {
  if (typeof uriOrHash === 'string' && uriOrHash.startsWith(DIR_SCHEME)) {
    const dir = parseDirUri(uriOrHash)
    if (dir.path.length > 0) throw new InvalidUriError(`a path inside a directory names no blob by itself here: ${truncate(uriOrHash)} (use the directory's own sha1dir://${dir.sha1})`)
    return dir.sha1
  }
  if (typeof uriOrHash === 'string' && !uriOrHash.startsWith('sha1://')) return assertSha1Hex(uriOrHash)
  return parseUri(uriOrHash).sha1
}

export function formatUri (sha1: string, name?: string): string {
  assertSha1Hex(sha1)
  return name !== undefined && name !== '' ? `sha1://${sha1}/${encodeURIComponent(name)}` : `sha1://${sha1}`
}

export function sha1ToBytes (sha1: string): Uint8Array {
  return Uint8Array.from(Buffer.from(assertSha1Hex(sha1), 'hex'))
}

export function bytesToSha1 (bytes: Uint8Array): string {
  if (bytes.length !== SHA1_BYTES) throw new InvalidUriError(`a sha1 digest is ${SHA1_BYTES} bytes, got ${bytes.length}`)
  return Buffer.from(bytes).toString('hex')
}

/**
 * Every `sha1://` string found anywhere inside a JSON value, and the root manifest of every
 * `sha1dir://` string (a sub path is held through its root), as deduplicated hashes. In strict
 * mode (ref objects a user writes) a malformed one is an error, because silently not counting it
 * would leave the blob it meant unprotected; lenient mode (scanning stored JSON blobs) skips it.
 */
export function findReferences (value: unknown, options: { strict?: boolean } = {}, out = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    const parse = value.startsWith('sha1://') ? parseUri : value.startsWith(DIR_SCHEME) ? parseDirUri : undefined
    if (parse !== undefined) {
      try {
        out.add(parse(value).sha1)
      } catch (err) {
        if (options.strict === true) throw err
      }
    }
  } else if (Array.isArray(value)) {
    for (const v of value) findReferences(v, options, out)
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) findReferences(v, options, out)
  }
  return out
}

function truncate (s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
