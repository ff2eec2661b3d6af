import { DirPathNotFoundError, InvalidDirManifestError, IsADirectoryError, isError } from '../errors.js'
import { MAX_DIR_DEPTH } from './constants.js'
import { decodeDirManifest, type DirManifest } from './manifest.js'
import { formatDirUri, type ParsedDirUri } from './uri.js'

export interface DirReadOptions {
  signal?: AbortSignal
  /** How long to look for peers holding a manifest that is not stored here. */
  timeoutMs?: number
}

/**
 * Where manifests come from: the bytes of a blob, verified against its sha1 (the store's ingest
 * and the fetcher both hash what they take in), fetched from peers when not stored here.
 */
export interface ManifestReader {
  readManifest: (sha1: string, options: DirReadOptions) => Promise<Uint8Array>
}

/** What a path inside a directory names. */
export type ResolvedPath =
  | { kind: 'dir', sha1: string, path: string[], manifest: DirManifest, size: number }
  | { kind: 'file', sha1: string, path: string[], size: number, exec: boolean }

/**
 * A manifest blob, decoded strictly: anything but the canonical encoding of a valid manifest
 * (a peer's forgery with `..` names, a blob that is no manifest at all) is an
 * InvalidDirManifestError naming the blob.
 */
export async function loadManifest (reader: ManifestReader, sha1: string, options: DirReadOptions = {}): Promise<DirManifest> {
  const bytes = await reader.readManifest(sha1, options)
  try {
    return decodeDirManifest(bytes)
  } catch (err) {
    if (!isError(err, InvalidDirManifestError)) throw err
    throw new InvalidDirManifestError(`sha1dir://${sha1} is not a valid directory manifest: ${(err as Error).message}`, { cause: err })
  }
}

/** Total bytes of the files below a directory: the sum of its entries' sizes. */
export function manifestSize (manifest: DirManifest): number {
  let size = 0
  for (const e of manifest.entries) size += e.size
  return size
}

/**
 * Follows `path` from the root manifest, one manifest per segment. A segment naming no entry, or
 * running through a file, is a DirPathNotFoundError; a path deeper than MAX_DIR_DEPTH cannot be
 * in a tree this node accepts and is refused before anything is read.
 */
export async function resolveDirPath (reader: ManifestReader, uri: ParsedDirUri, options: DirReadOptions = {}): Promise<ResolvedPath> {
  if (uri.path.length > MAX_DIR_DEPTH) throw new DirPathNotFoundError(`${formatDirUri(uri.sha1, uri.path.slice(0, 3))}/...: a path of ${uri.path.length} segments is deeper than directories nest (${MAX_DIR_DEPTH})`)
  let sha1 = uri.sha1
  let manifest = await loadManifest(reader, sha1, options)
  for (const [i, name] of uri.path.entries()) {
    const entry = findEntry(manifest, name)
    const here = formatDirUri(uri.sha1, uri.path.slice(0, i + 1))
    if (entry === undefined) throw new DirPathNotFoundError(`${here}: no such file or directory in ${formatDirUri(uri.sha1, uri.path.slice(0, i))}`)
    if (entry.kind === 'file') {
      if (i < uri.path.length - 1) throw new DirPathNotFoundError(`${formatDirUri(uri.sha1, uri.path)}: ${here} is a file, not a directory`)
      return { kind: 'file', sha1: entry.sha1, path: uri.path, size: entry.size, exec: entry.exec }
    }
    sha1 = entry.sha1
    manifest = await loadManifest(reader, sha1, options)
    const size = manifestSize(manifest)
    if (size !== entry.size) throw new InvalidDirManifestError(`${here}: its entry claims ${entry.size} bytes below it, its manifest sha1dir://${sha1} lists ${size}`)
  }
  return { kind: 'dir', sha1, path: uri.path, manifest, size: manifestSize(manifest) }
}

/** The entry of this name (entries are sorted by name bytes, but one scan is as cheap as the decode was). */
function findEntry (manifest: DirManifest, name: string): DirManifest['entries'][number] | undefined {
  return manifest.entries.find((e) => e.name === name)
}

/** What `cat` of a directory says: the same words embedded and through a running node. */
export function isADirectory (uri: string): IsADirectoryError {
  return new IsADirectoryError(`${uri} is a directory: list it with "trove ls", or write it out with "trove get URI -o DIR"`)
}
