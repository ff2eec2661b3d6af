import { decodeDirManifest, looksLikeDirManifest } from '../dirs/manifest.js'
import { DIR_SCHEME } from '../dirs/uri.js'
import { findReferences, isSha1Hex } from '../uri.js'
import { LINKS_MAX_BYTES } from './constants.js'

/** The `type` of a chunk manifest (src/store/manifests.ts): it names its blob by plain hex. */
const MANIFEST_TYPE = 'trove/manifest'

/** Whether a stored blob is worth reading to look for references (cheap test on its size). */
export function mayHoldLinks (size: number): boolean {
  return size > 0 && size <= LINKS_MAX_BYTES
}

/**
 * The blobs a JSON document references: every `sha1://` string in it and the root of every
 * `sha1dir://` string, for a chunk manifest the blob it describes, and for a directory manifest
 * every entry (its files and its subdirectories' manifests, which are followed in turn). Anything
 * that is not JSON references nothing. Lenient: a malformed URI inside a stored document is
 * skipped (the document is already stored; refusing it would help no one).
 */
export function extractLinks (bytes: Uint8Array, self?: string): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!looksLikeJson(text)) return []
  if (looksLikeDirManifest(text)) {
    const entries = dirEntries(text)
    if (entries !== undefined) {
      const out = new Set(entries)
      if (self !== undefined) out.delete(self)
      return [...out]
    }
  }
  const hasUri = text.includes('sha1://') || text.includes(DIR_SCHEME)
  const maybeManifest = text.includes(MANIFEST_TYPE)
  if (!hasUri && !maybeManifest) return []
  let value: unknown
  try {
    value = JSON.parse(text.toString('utf8'))
  } catch {
    return []
  }
  const out = hasUri ? findReferences(value) : new Set<string>()
  const m = value as { type?: unknown, sha1?: unknown }
  if (maybeManifest && m !== null && typeof m === 'object' && m.type === MANIFEST_TYPE && typeof m.sha1 === 'string' && isSha1Hex(m.sha1)) {
    out.add(m.sha1)
  }
  if (self !== undefined) out.delete(self)
  return [...out]
}

/** The sha1 of every entry of a valid directory manifest; undefined for anything else (scanned as plain JSON then). */
function dirEntries (bytes: Uint8Array): string[] | undefined {
  try {
    return decodeDirManifest(bytes).entries.map((e) => e.sha1)
  } catch {
    return undefined
  }
}

/** Starts (after whitespace) like a JSON object or array: only those can reference anything. */
export function looksLikeJson (head: Uint8Array): boolean {
  let i = 0
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++
  return i < head.length && (head[i] === 0x7b || head[i] === 0x5b)
}
