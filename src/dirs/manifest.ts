import { createHash } from 'node:crypto'
import { InvalidDirManifestError } from '../errors.js'
import { isSha1Hex } from '../hex.js'
import { DIR_MANIFEST_TYPE, DIR_MANIFEST_VERSION, MAX_DIR_ENTRIES, MAX_DIR_MANIFEST_BYTES, MAX_NAME_BYTES } from './constants.js'

/**
 * A directory manifest (docs/formats.md): one directory level, git-tree style. Subdirectories are
 * their own manifests, so an unchanged subtree keeps its hash and listing a folder reads one blob.
 */
export type DirEntryKind = 'file' | 'dir'

export interface DirEntry {
  name: string
  kind: DirEntryKind
  /** For a file the blob's sha1; for a dir the sha1 of its manifest. 40 lowercase hex. */
  sha1: string
  /** For a file its size; for a dir the total bytes of all files below it. */
  size: number
  /** The owner-executable bit of a file; always false for a dir. */
  exec: boolean
}

export interface DirManifest {
  entries: DirEntry[]
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Orders names by their UTF-8 bytes, the order every implementation can reproduce. UTF-8 byte
 * order is code point order, so this compares code points without encoding either string: a
 * sort of a 100,000-entry folder made millions of small Buffers otherwise.
 */
export function compareNames (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // a surrogate is half of a code point above U+FFFF: after every other UTF-16 unit in code
    // point order, though E000-FFFF are above it as units; two surrogates compare as units do
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys) return xs ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

/**
 * Why a name cannot be an entry, or undefined when it can. Names are single path segments: a `/`,
 * NUL, `.` or `..` would let a manifest write outside the directory it is unpacked into.
 */
export function nameProblem (name: string): string | undefined {
  if (typeof name !== 'string') return 'name is not a string'
  if (name === '') return 'empty name'
  if (name === '.' || name === '..') return `name ${JSON.stringify(name)} is not allowed`
  if (name.includes('/')) return `name ${JSON.stringify(name)} contains "/"`
  if (name.includes('\0')) return `name ${JSON.stringify(name)} contains NUL`
  if (!(name as unknown as { isWellFormed: () => boolean }).isWellFormed()) return `name ${JSON.stringify(name)} is not valid UTF-8`
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `name is longer than ${MAX_NAME_BYTES} bytes: ${JSON.stringify(name.slice(0, 40))}...`
  return undefined
}

/**
 * The canonical bytes of a manifest: RFC 8785 (JCS) JSON (keys sorted, no whitespace, integers,
 * strings as JSON.stringify writes them), entries sorted by name bytes. Validates every entry, so
 * nothing invalid is ever hashed.
 */
export function encodeDirManifest (manifest: DirManifest): Uint8Array {
  const entries = [...manifest.entries].sort((a, b) => compareNames(a.name, b.name))
  checkEntries(entries)
  // written entry by entry into one growing buffer: joining the entries' strings first held a
  // tree of a million string pieces for a 100,000-entry folder (bench/dirs, peak RSS)
  const out = new ByteWriter()
  out.write('{"entries":[')
  for (const [i, e] of entries.entries()) {
    out.write(`${i > 0 ? ',' : ''}{"exec":${e.exec ? 'true' : 'false'},"kind":"${e.kind}","name":${JSON.stringify(e.name)},"sha1":"${e.sha1}","size":${e.size}}`)
    if (out.length > MAX_DIR_MANIFEST_BYTES) break
  }
  out.write(`],"type":"${DIR_MANIFEST_TYPE}","version":${DIR_MANIFEST_VERSION}}`)
  if (out.length > MAX_DIR_MANIFEST_BYTES) throw new InvalidDirManifestError(`directory manifest of more than ${MAX_DIR_MANIFEST_BYTES} bytes`)
  return out.bytes()
}

/** UTF-8 text appended to one buffer that doubles as it fills. */
class ByteWriter {
  private buf = Buffer.allocUnsafe(4096)
  length = 0

  write (text: string): void {
    const need = this.length + Buffer.byteLength(text, 'utf8')
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
      this.buf.copy(next, 0, 0, this.length)
      this.buf = next
    }
    this.length += this.buf.write(text, this.length, 'utf8')
  }

  bytes (): Buffer {
    return this.buf.subarray(0, this.length)
  }
}

/** sha1 of the canonical bytes: the directory's identity (`sha1dir://<this>`). */
export function dirManifestSha1 (bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** Cheap test on a blob's first bytes: could it be a directory manifest? */
export function looksLikeDirManifest (head: Uint8Array): boolean {
  return Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 12)).toString('latin1') === '{"entries":['
}

/**
 * Parses and validates manifest bytes, whoever sent them. Refuses anything that is not exactly
 * the canonical encoding of a valid manifest (so one tree has one hash), with an
 * InvalidDirManifestError naming the first problem.
 */
export function decodeDirManifest (bytes: Uint8Array): DirManifest {
  if (bytes.byteLength > MAX_DIR_MANIFEST_BYTES) throw new InvalidDirManifestError(`directory manifest of ${bytes.byteLength} bytes exceeds ${MAX_DIR_MANIFEST_BYTES}`)
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new InvalidDirManifestError('directory manifest is not valid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new InvalidDirManifestError('directory manifest is not JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidDirManifestError('directory manifest is not a JSON object')
  const v = value as Record<string, unknown>
  if (v.type !== DIR_MANIFEST_TYPE) throw new InvalidDirManifestError(`not a directory manifest (type ${JSON.stringify(v.type)})`)
  if (v.version !== DIR_MANIFEST_VERSION) throw new InvalidDirManifestError(`unsupported directory manifest version ${JSON.stringify(v.version)}`)
  if (!Array.isArray(v.entries)) throw new InvalidDirManifestError('directory manifest has no entries array')
  if (v.entries.length > MAX_DIR_ENTRIES) throw new InvalidDirManifestError(`directory manifest has ${v.entries.length} entries, more than ${MAX_DIR_ENTRIES}`)
  const entries = v.entries.map(readEntry)
  const manifest = { entries }
  const again = encodeDirManifest(manifest)
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) !== 0) {
    throw new InvalidDirManifestError('directory manifest is not in canonical form')
  }
  return manifest
}

function readEntry (raw: unknown, i: number): DirEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidDirManifestError(`entry ${i} is not an object`)
  const e = raw as Record<string, unknown>
  const keys = Object.keys(e).sort().join(',')
  if (keys !== 'exec,kind,name,sha1,size') throw new InvalidDirManifestError(`entry ${i} must have exactly exec, kind, name, sha1, size (has ${keys})`)
  return e as unknown as DirEntry
}

function checkEntries (entries: DirEntry[]): void {
  let prev: string | undefined
  for (const [i, e] of entries.entries()) {
    const problem = nameProblem(e.name)
    if (problem !== undefined) throw new InvalidDirManifestError(`entry ${i}: ${problem}`)
    if (e.kind !== 'file' && e.kind !== 'dir') throw new InvalidDirManifestError(`entry ${i} (${e.name}): kind must be "file" or "dir"`)
    if (typeof e.sha1 !== 'string' || !isSha1Hex(e.sha1)) throw new InvalidDirManifestError(`entry ${i} (${e.name}): sha1 must be 40 lowercase hex`)
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) throw new InvalidDirManifestError(`entry ${i} (${e.name}): size must be a non-negative integer`)
    if (typeof e.exec !== 'boolean') throw new InvalidDirManifestError(`entry ${i} (${e.name}): exec must be a boolean`)
    if (e.kind === 'dir' && e.exec) throw new InvalidDirManifestError(`entry ${i} (${e.name}): a dir entry has exec false`)
    if (prev !== undefined && compareNames(prev, e.name) >= 0) throw new InvalidDirManifestError(`entry ${i}: duplicate or unsorted name ${JSON.stringify(e.name)}`)
    prev = e.name
  }
}
