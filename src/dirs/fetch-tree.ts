import { BlobNotFoundError, InvalidDirManifestError, StorageFullError } from '../errors.js'
import type { DirProgress, Eviction, FetchDirOptions, FetchDirResult, FetchManyResult } from '../ops.js'
import { NoProvidersError, TransferFailedError } from '../transfer/errors.js'
import { MAX_DIR_DEPTH, MAX_GET_ENTRIES } from './constants.js'

/**
 * Blobs asked of the fetcher per call: a 100,000-file tree in ten calls keeps what one call holds
 * small (bench/dirs-get: one call for 100,000 took the fetching node past 700 MB), while each
 * call is still thousands of blobs in pipelined batches.
 */
const FETCH_SLICE = 10_000
import type { DirManifest } from './manifest.js'
import { loadManifest, manifestSize, resolveDirPath, type ManifestReader, type ResolvedPath } from './resolve.js'
import { formatDirUri, parseDirUri } from './uri.js'

/** What walking and fetching a tree needs from the node: its store's index and its multi-blob fetch. */
export interface TreeFetcher extends ManifestReader {
  /** The stored size of each blob, in order; undefined for one not stored here. Nothing is fetched. */
  sizesOf: (sha1s: string[]) => Promise<Array<number | undefined>>
  /** Makes these blobs local from peers (already stored ones are skipped); failures are listed. */
  fetchMany: (sha1s: string[], options: { signal?: AbortSignal, timeoutMs?: number, onProgress?: (p: { done: number, total: number }) => void }) => Promise<FetchManyResult & { evictions?: Eviction[] }>
  /** Holds blobs against eviction until the returned function is called (absent: nothing holds them). */
  hold?: (sha1s: string[]) => () => void
}

/** A tree made local: what the URI names and what is below it, held until `release`. */
export interface LocalTree {
  uri: string
  resolved: ResolvedPath
  result: FetchDirResult
  release: () => void
}

/**
 * Makes everything below a `sha1dir://` URI local. The manifests are walked a level at a time
 * (each level's missing manifests in one multi-blob fetch) and every one is decoded strictly and
 * checked against its parent's entry (the size it claims) before any file blob is asked for; then
 * the files' blobs come in one multi-blob fetch. Nothing is written outside the store: a tree that
 * is refused leaves only verified blobs behind. What is stored already is not fetched again, so a
 * rerun after an interruption fetches only the rest.
 */
export async function fetchTree (c: TreeFetcher, uri: string, options: FetchDirOptions = {}): Promise<LocalTree> {
  const parsed = parseDirUri(uri)
  const normal = formatDirUri(parsed.sha1, parsed.path)
  const progress = (p: DirProgress): void => { options.onProgress?.(p) }
  const resolved = await resolveDirPath(c, parsed, options)
  const evictions: Eviction[] = []
  if (resolved.kind === 'file') {
    const release = c.hold?.([resolved.sha1]) ?? (() => {})
    try {
      const fetched = await fetchAll(c, new Map([[resolved.sha1, resolved.size]]), options, (p) => { progress({ phase: 'fetch', files: p.done, totalFiles: p.total, bytes: 0, totalBytes: resolved.size }) })
      evictions.push(...fetched.evictions ?? [])
      const result: FetchDirResult = { uri: normal, kind: 'file', sha1: resolved.sha1, files: 1, dirs: 0, bytes: resolved.size, fetched: fetched.fetched, local: fetched.local }
      if (evictions.length > 0) result.evictions = evictions
      return { uri: normal, resolved, result, release }
    } catch (err) {
      release()
      throw err
    }
  }

  // the walk: every manifest below, a level at a time; files' blobs and sizes collected
  const files = new Map<string, number>()
  const manifests = new Set<string>([resolved.sha1])
  let fileCount = 0
  let dirCount = 0
  let entries = 0
  let fetched = 0
  let local = 0
  let level: Array<{ sha1: string, size: number, at: string[] }> = []
  const visit = (manifest: { manifest: DirManifest, path: string[] }): void => {
    entries += manifest.manifest.entries.length
    if (entries > MAX_GET_ENTRIES) throw new InvalidDirManifestError(`${normal} has more than ${MAX_GET_ENTRIES} entries (counting repeated subtrees each time): refused`)
    for (const e of manifest.manifest.entries) {
      const at = [...manifest.path, e.name]
      if (e.kind === 'dir') {
        dirCount++
        if (at.length > MAX_DIR_DEPTH) throw new InvalidDirManifestError(`${formatDirUri(parsed.sha1, at.slice(0, 3))}/...: directories nest deeper than ${MAX_DIR_DEPTH}: refused`)
        level.push({ sha1: e.sha1, size: e.size, at })
        manifests.add(e.sha1)
        continue
      }
      fileCount++
      const known = files.get(e.sha1)
      if (known !== undefined && known !== e.size) throw new InvalidDirManifestError(`${formatDirUri(parsed.sha1, at)}: blob sha1://${e.sha1} is listed with sizes ${known} and ${e.size}`)
      files.set(e.sha1, e.size)
    }
  }
  const release = c.hold?.([resolved.sha1]) ?? (() => {})
  const releases = [release]
  const releaseAll = (): void => { for (const r of releases) r() }
  try {
    visit(resolved)
    progress({ phase: 'manifests', files: manifests.size, totalFiles: 0, bytes: 0, totalBytes: resolved.size })
    while (level.length > 0) {
      const current = level
      level = []
      const unique = [...new Set(current.map((d) => d.sha1))]
      releases.push(c.hold?.(unique) ?? (() => {}))
      const got = await fetchAll(c, new Map(unique.map((s) => [s, -1])), options)
      fetched += got.fetched
      local += got.local
      evictions.push(...got.evictions ?? [])
      for (const d of current) {
        options.signal?.throwIfAborted()
        const manifest = await loadManifest(c, d.sha1, options)
        const size = manifestSize(manifest)
        if (size !== d.size) throw new InvalidDirManifestError(`${formatDirUri(parsed.sha1, d.at)}: its entry claims ${d.size} bytes below it, its manifest sha1dir://${d.sha1} lists ${size}`)
        visit({ manifest, path: d.at })
      }
      progress({ phase: 'manifests', files: manifests.size, totalFiles: 0, bytes: 0, totalBytes: resolved.size })
    }

    releases.push(c.hold?.([...files.keys()]) ?? (() => {}))
    const got = await fetchAll(c, files, options, (p) => { progress({ phase: 'fetch', files: p.done, totalFiles: p.total, bytes: 0, totalBytes: resolved.size }) })
    fetched += got.fetched
    local += got.local
    evictions.push(...got.evictions ?? [])
    const result: FetchDirResult = { uri: normal, kind: 'dir', sha1: resolved.sha1, files: fileCount, dirs: dirCount, bytes: resolved.size, fetched, local }
    if (evictions.length > 0) result.evictions = evictions
    return { uri: normal, resolved, result, release: releaseAll }
  } catch (err) {
    releaseAll()
    throw err
  }
}

/**
 * One multi-blob fetch of `wanted` (sha1 -> the size its entry claims, -1 for a manifest, whose
 * size its parent's check covers). A blob that could not be fetched fails the whole tree, with
 * the error of the first failure's kind; the ones that came stay in the store for a rerun. A
 * stored blob whose size is not the one its entry claims makes the manifest a liar.
 */
async function fetchAll (c: TreeFetcher, wanted: Map<string, number>, options: FetchDirOptions, onProgress?: (p: { done: number, total: number }) => void): Promise<FetchManyResult & { evictions?: Eviction[] }> {
  const sha1s = [...wanted.keys()]
  const got: FetchManyResult & { evictions?: Eviction[] } = { fetched: 0, local: 0, failed: [] }
  // in slices: what the fetcher holds for one call (have answers, batches) grows with its list
  for (let i = 0; i < sha1s.length; i += FETCH_SLICE) {
    const slice = sha1s.slice(i, i + FETCH_SLICE)
    const part = await c.fetchMany(slice, { signal: options.signal, timeoutMs: options.timeoutMs, onProgress: (p) => { onProgress?.({ done: i + p.done, total: sha1s.length }) } })
    options.signal?.throwIfAborted()
    got.fetched += part.fetched
    got.local += part.local
    got.failed.push(...part.failed)
    if (part.evictions !== undefined) got.evictions = [...got.evictions ?? [], ...part.evictions]
  }
  if (got.failed.length > 0) throw fetchFailure(got.failed, sha1s.length)
  const sizes = await c.sizesOf(sha1s)
  for (const [i, sha1] of sha1s.entries()) {
    const claimed = wanted.get(sha1) ?? -1
    const size = sizes[i]
    if (size === undefined) throw new TransferFailedError(`sha1://${sha1} was fetched but is no longer stored here (evicted meanwhile?); run the command again`)
    if (claimed >= 0 && size !== claimed) throw new InvalidDirManifestError(`the directory lists sha1://${sha1} with ${claimed} bytes, but that blob has ${size}`)
  }
  return got
}

function fetchFailure (failed: FetchManyResult['failed'], total: number): Error {
  const first = failed[0]
  const message = `${failed.length} of ${total} blobs of the directory could not be fetched (first: sha1://${first.sha1}: ${first.message}); those that came stay stored, and running the command again fetches only the rest`
  if (first.code === 'STORAGE_FULL') return new StorageFullError(message)
  if (first.code === 'NO_PROVIDERS') return new NoProvidersError(message)
  // no network to fetch with (embedded), or the blob is gone
  if (first.code === 'BLOB_NOT_FOUND') return new BlobNotFoundError(message)
  return new TransferFailedError(message)
}
