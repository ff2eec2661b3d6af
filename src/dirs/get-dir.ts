import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileExistsError, InternalError, StorageFullError, isDiskFull } from '../errors.js'
import { isPidAlive } from '../fs-util.js'
import type { Logger } from '../logger.js'
import type { FetchDirOptions, GetDirOptions, GetDirResult } from '../ops.js'
import { fetchTree, type LocalTree, type TreeFetcher } from './fetch-tree.js'
import type { DirManifest } from './manifest.js'
import { loadManifest } from './resolve.js'

/** Names of this module's own siblings of a target: `.NAME.trove-get-PID-RAND` (the tree being written), `.NAME.trove-old-PID-RAND` (a tree being replaced). */
const TEMP_TAG = '.trove-get-'
const OLD_TAG = '.trove-old-'

/** One file to write: stored blob `sha1` (`size` bytes, as its entry claims) into `file`. */
export interface FileToWrite {
  sha1: string
  size: number
  file: string
  exec: boolean
}

/** What writing a tree needs beyond fetching it: copying stored blobs out into new files. */
export interface TreeWriter extends TreeFetcher {
  /**
   * Writes one directory's files, none of which exists yet (each is created exclusively, so it
   * can never follow a link), executable when `exec`; `onWritten` after each, with its size.
   */
  writeFiles: (files: FileToWrite[], options: { signal?: AbortSignal, onWritten: (size: number) => void }) => Promise<void>
  /** Makes the tree local some other way than `fetchTree` over this writer (a node doing it for its API client). */
  fetchTree?: (uri: string, options: FetchDirOptions) => Promise<LocalTree>
  log?: Logger
}

/** Temporary and replaced trees this process is handling now: a stale-sibling sweep of another get must leave them. */
const writing = new Set<string>()

/**
 * Makes the tree local (`fetchTree`: everything refused before anything is written), then writes
 * it into a temporary sibling of `dest` (same filesystem) and renames that into place once it is
 * complete: a reader never sees half a tree under `dest`. An existing `dest` is refused unless
 * `force`, and then replaced only after the new tree is complete. Files are created exclusively
 * in a directory this call made, with names a manifest may hold (no `/`, `..`, NUL), and each
 * path is checked to lie inside the temporary root; no link is ever made. On any failure the
 * temporary tree is removed and the fetched blobs stay in the store, so a rerun writes without
 * fetching again; a full disk says so.
 */
export async function getDir (c: TreeWriter, uri: string, dest: string, options: GetDirOptions = {}): Promise<GetDirResult> {
  const target = path.resolve(dest)
  const parent = path.dirname(target)
  const base = path.basename(target)
  if (target === parent) throw new FileExistsError(`cannot write a tree over ${target}`)
  if (options.force !== true && await exists(target)) throw existsError(dest)
  await fs.mkdir(parent, { recursive: true })
  await sweepStale(parent, base, c.log)

  const tree = await (c.fetchTree?.(uri, options) ?? fetchTree(c, uri, options))
  const tmp = path.join(parent, `.${base}${TEMP_TAG}${process.pid}-${randomBytes(4).toString('hex')}`)
  writing.add(tmp)
  try {
    const { resolved, result } = tree
    if (resolved.kind === 'file') {
      await c.writeFiles([{ sha1: resolved.sha1, size: resolved.size, file: tmp, exec: resolved.exec }], { signal: options.signal, onWritten: () => {} })
      options.onProgress?.({ phase: 'write', files: 1, totalFiles: 1, bytes: resolved.size, totalBytes: resolved.size })
    } else {
      await fs.mkdir(tmp, { mode: 0o755 })
      const done = { files: 0, bytes: 0 }
      const report = (): void => { options.onProgress?.({ phase: 'write', files: done.files, totalFiles: result.files, bytes: done.bytes, totalBytes: result.bytes }) }
      report()
      // the root's manifest is decoded already; the levels below are read again one at a time
      await writeTree(c, resolved.manifest, tmp, done, report, options)
    }
    const replaced = await place(tmp, target, options.force === true, dest, c.log)
    return { ...result, path: dest, replaced }
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch((e: unknown) => { c.log?.warn(`could not remove the temporary tree ${tmp}`, e) })
    if (isDiskFull(err)) {
      throw new StorageFullError(`the disk filled while writing ${dest} (${(err as NodeJS.ErrnoException).code ?? ''}): the partial tree was removed; the ${tree.result.fetched + tree.result.local} blobs of the tree stay in the store, so once there is room a rerun writes it without fetching again`, { cause: err })
    }
    throw err
  } finally {
    writing.delete(tmp)
    tree.release()
  }
}

/**
 * Files handed to the writer at once, across directories: batches this large keep the store's
 * small-file worker's hand-offs few (on a loaded machine each costs milliseconds of scheduling),
 * and a list of a thousand names is all the memory they take.
 */
const WRITE_BATCH = 1024

/**
 * Writes the tree depth first: each directory is made before anything inside it, its files are
 * queued and written a batch at a time (a batch may span directories); manifests below the root
 * are read again from the store, one level in memory at a time.
 */
async function writeTree (c: TreeWriter, root: DirManifest, dir: string, done: { files: number, bytes: number }, report: () => void, options: GetDirOptions): Promise<void> {
  const pending: FileToWrite[] = []
  const flush = async (): Promise<void> => {
    const batch = pending.splice(0)
    await c.writeFiles(batch, {
      signal: options.signal,
      onWritten: (size) => {
        done.files++
        done.bytes += size
        report()
      }
    })
  }
  const walk = async (manifest: DirManifest, at: string): Promise<void> => {
    for (const e of manifest.entries) {
      if (e.kind !== 'file') continue
      pending.push({ sha1: e.sha1, size: e.size, exec: e.exec, file: inside(dir, at, e.name) })
      if (pending.length >= WRITE_BATCH) await flush()
    }
    for (const e of manifest.entries) {
      if (e.kind !== 'dir') continue
      options.signal?.throwIfAborted()
      const sub = inside(dir, at, e.name)
      await fs.mkdir(sub, { mode: 0o755 })
      await walk(await loadManifest(c, e.sha1, options), sub)
    }
  }
  await walk(root, dir)
  await flush()
}

/**
 * `dir/name`, checked to lie strictly inside `root`. Names were validated when their manifest was
 * decoded; this is the last word, so that no future change to either can write outside the target.
 */
function inside (root: string, dir: string, name: string): string {
  const p = path.join(dir, name)
  const rel = path.relative(root, p)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || path.dirname(p) !== dir) throw new InternalError(`refusing to write ${JSON.stringify(name)}: it would land outside ${root}`)
  return p
}

/**
 * Moves the finished tree to `target`. An existing target (with force) is first renamed aside,
 * then removed once the new tree is in place; were this process killed in between, the next get
 * of the same target restores or removes it (`sweepStale`).
 */
async function place (tmp: string, target: string, force: boolean, dest: string, log?: Logger): Promise<boolean> {
  if (!await exists(target)) {
    await fs.rename(tmp, target)
    return false
  }
  if (!force) throw existsError(dest)
  const old = path.join(path.dirname(target), `.${path.basename(target)}${OLD_TAG}${process.pid}-${randomBytes(4).toString('hex')}`)
  writing.add(old)
  try {
    await fs.rename(target, old)
    try {
      await fs.rename(tmp, target)
    } catch (err) {
      await fs.rename(old, target).catch((e: unknown) => { log?.warn(`could not move ${old} back to ${target}`, e) })
      throw err
    }
    await fs.rm(old, { recursive: true, force: true }).catch((e: unknown) => { log?.warn(`the replaced tree ${old} could not be removed`, e) })
  } finally {
    writing.delete(old)
  }
  return true
}

/**
 * Leftovers of earlier gets of the same target whose process is gone: a temporary tree is
 * removed; a tree that was being replaced is removed when its replacement is in place, and
 * otherwise moved back (the old tree is the user's data). Only names of exactly this module's
 * pattern, of a dead process (or of this process but not being written now), are touched.
 */
async function sweepStale (parent: string, base: string, log?: Logger): Promise<void> {
  const names = await fs.readdir(parent).catch(() => [] as string[])
  for (const name of names) {
    const kind = name.startsWith(`.${base}${TEMP_TAG}`) ? 'tmp' : name.startsWith(`.${base}${OLD_TAG}`) ? 'old' : undefined
    if (kind === undefined) continue
    const m = /-(\d+)-[0-9a-f]{8}$/.exec(name)
    if (m === null || name.length !== `.${base}${TEMP_TAG}`.length + m[0].length - 1) continue
    const pid = Number(m[1])
    const full = path.join(parent, name)
    if (pid === process.pid ? writing.has(full) : isPidAlive(pid)) continue
    try {
      if (kind === 'old' && !await exists(path.join(parent, base))) await fs.rename(full, path.join(parent, base))
      else await fs.rm(full, { recursive: true, force: true })
    } catch (err) {
      log?.warn(`could not clean up ${full}, left by an interrupted get`, err)
    }
  }
}

async function exists (p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false)
}

function existsError (dest: string): FileExistsError {
  return new FileExistsError(`${dest} exists; give --force to replace it (it is replaced only once the new tree is complete)`)
}
