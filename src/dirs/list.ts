import { InvalidArgumentError } from '../errors.js'
import type { DirListEntry, DirListing, ListDirOptions } from '../ops.js'
import { DIR_LIST_DEFAULT_LIMIT, DIR_LIST_MAX_LIMIT } from './constants.js'
import { compareNames } from './manifest.js'
import { resolveDirPath, type ManifestReader } from './resolve.js'
import { formatDirUri, parseDirUri } from './uri.js'

export interface ListDirComponents extends ManifestReader {
  /** Which of these blobs are stored here, in order; nothing is fetched. */
  hasMany: (sha1s: string[]) => Promise<boolean[]>
}

/**
 * Lists what a `sha1dir://` URI names: a directory's entries (a page of `limit` after `cursor`,
 * in name order) with whether each is stored here, or a file as a listing of itself.
 */
export async function listDir (c: ListDirComponents, uri: string, options: ListDirOptions = {}): Promise<DirListing> {
  const parsed = parseDirUri(uri)
  const limit = options.limit ?? DIR_LIST_DEFAULT_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > DIR_LIST_MAX_LIMIT) throw new InvalidArgumentError(`limit must be an integer from 1 to ${DIR_LIST_MAX_LIMIT}`)
  const resolved = await resolveDirPath(c, parsed, options)
  const normal = formatDirUri(parsed.sha1, parsed.path)
  if (resolved.kind === 'file') {
    const [local] = await c.hasMany([resolved.sha1])
    const name = parsed.path[parsed.path.length - 1]
    const entry: DirListEntry = { name, kind: 'file', sha1: resolved.sha1, size: resolved.size, exec: resolved.exec, local }
    return { uri: normal, kind: 'file', sha1: resolved.sha1, size: resolved.size, entries: [entry], total: 1 }
  }
  const all = resolved.manifest.entries
  const start = options.cursor === undefined ? 0 : firstAfter(all, options.cursor)
  const page = all.slice(start, start + limit)
  const local = await c.hasMany(page.map((e) => e.sha1))
  const entries = page.map((e, i): DirListEntry => ({ name: e.name, kind: e.kind, sha1: e.sha1, size: e.size, exec: e.exec, local: local[i] }))
  const listing: DirListing = { uri: normal, kind: 'dir', sha1: resolved.sha1, size: resolved.size, entries, total: all.length }
  if (start + limit < all.length) listing.next = page[page.length - 1].name
  return listing
}

/** Index of the first entry named after `cursor` (entries are sorted by name bytes). */
function firstAfter (entries: Array<{ name: string }>, cursor: string): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareNames(entries[mid].name, cursor) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
