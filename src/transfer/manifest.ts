import { InvalidArgumentError } from '../errors.js'
import { isSha1Hex } from '../uri.js'

export const MANIFEST_TYPE = 'trove/manifest'

/**
 * The chunk list of a large blob, itself stored as a (JSON) blob so it can be fetched and
 * verified like any other. Chunk hashes are plain hex, not sha1:// URIs: chunks are byte ranges
 * of the blob, not blobs of their own.
 */
export interface Manifest {
  type: typeof MANIFEST_TYPE
  version: 1
  sha1: string
  size: number
  chunkSize: number
  chunks: string[]
}

export function makeManifest (sha1: string, size: number, chunkSize: number, chunks: string[]): Manifest {
  return { type: MANIFEST_TYPE, version: 1, sha1, size, chunkSize, chunks }
}

export function encodeManifest (m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m))
}

/** Parses and checks a manifest from a peer: it must describe exactly the blob we asked for. */
export function parseManifest (bytes: Uint8Array, expect: { sha1: string, size?: number }): Manifest {
  let m: Manifest
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest
  } catch {
    throw new InvalidArgumentError('manifest is not JSON')
  }
  const fail = (why: string): never => { throw new InvalidArgumentError(`invalid manifest for ${expect.sha1}: ${why}`) }
  if (m === null || typeof m !== 'object' || m.type !== MANIFEST_TYPE || m.version !== 1) fail('wrong type or version')
  if (m.sha1 !== expect.sha1) fail('describes another blob')
  if (!Number.isSafeInteger(m.size) || m.size < 0) fail('bad size')
  if (expect.size !== undefined && m.size !== expect.size) fail(`size ${m.size} differs from the provider's ${expect.size}`)
  if (!Number.isSafeInteger(m.chunkSize) || m.chunkSize < 1024) fail('bad chunk size')
  if (!Array.isArray(m.chunks) || m.chunks.length !== Math.ceil(m.size / m.chunkSize)) fail('chunk count does not match size')
  if (!m.chunks.every((c) => typeof c === 'string' && isSha1Hex(c))) fail('chunk hash is not sha1 hex')
  return m
}

/** Byte range of chunk `i`. */
export function chunkRange (m: Manifest, i: number): { offset: number, length: number } {
  const offset = i * m.chunkSize
  return { offset, length: Math.min(m.chunkSize, m.size - offset) }
}
