import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError } from '../errors.js'
import type { AddDirProgress, AddDirResult } from '../ops.js'
import { PACK_MAX_BYTES } from '../store/constants.js'
import type { SmallFileIo } from '../store/small-io.js'
import { encodeDirManifest, type DirEntry } from './manifest.js'
import { formatDirUri } from './uri.js'
import { fileError, identity, join, readLevel, type LocalEntry, type ReadLevelOptions } from './walk.js'

/**
 * Files of one directory stored at once. Stores that finish together commit together (one index
 * batch, one pack append), so a few dozen in flight turn a folder of small files into a few
 * commits; more only adds open files.
 */
const FILES_IN_FLIGHT = 128

/** What adding a directory needs of the store: its two ways in for local content. */
export interface DirSink {
  /** Bytes held whole (a small file, a manifest): small ones go into pack files. */
  putBytes: (bytes: Uint8Array, options: { signal?: AbortSignal }) => Promise<{ sha1: string, size: number }>
  /** A local file, copied in the kernel and hashed as stored (with a chunk manifest when large). */
  putFile: (file: string, options: { signal?: AbortSignal }) => Promise<{ sha1: string, size: number }>
  /** Batched small-file reads (the store's small-file worker); without it, `fs.readFile`. */
  io?: Pick<SmallFileIo, 'read'>
}

export interface AddLocalDirOptions {
  followSymlinks?: boolean
  signal?: AbortSignal
  onProgress?: (progress: AddDirProgress) => void
}

export interface LocalDirAdded {
  sha1: string
  uri: string
  files: number
  dirs: number
  bytes: number
  /** Files whose size or modification time changed while they were read (relative paths). */
  changed: string[]
  /** Sockets, FIFOs and devices left out (relative paths). */
  skipped: string[]
}

/**
 * Stores the directory `dir`: depth first, every file of a level (up to FILES_IN_FLIGHT at once),
 * then each subdirectory, then the level's manifest, so every manifest is written after everything
 * it names and the root last. Memory holds the entries of the directories on the current path and
 * the manifest being built, never the whole tree's file list. A file that changes while it is read
 * is stored as read (the hash is always of the stored bytes) and listed in `changed`.
 */
export async function addLocalDir (sink: DirSink, dir: string, options: AddLocalDirOptions = {}): Promise<LocalDirAdded> {
  const root = path.resolve(dir)
  const st = await fs.stat(root).catch((err: unknown) => {
    throw new FileNotFoundError(`no such directory: ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err })
  })
  if (!st.isDirectory()) throw new FileNotFoundError(`not a directory: ${dir}`)
  const rootReal = await fs.realpath(root)
  // what would be refused is found before anything is stored: bad input adds nothing
  await checkTree(root, '', { rootReal, followSymlinks: options.followSymlinks === true, ancestors: new Set([identity(st)]) }, options.signal)
  const walker = new TreeAdder(sink, rootReal, options)
  const top = await walker.level(root, '', new Set([identity(st)]))
  return { sha1: top.sha1, uri: formatDirUri(top.sha1), files: walker.files, dirs: walker.dirs, bytes: walker.bytes, changed: walker.changed, skipped: walker.skipped }
}

/** Walks the tree as the add will, storing nothing, so that a refused entry is met first. */
async function checkTree (dir: string, rel: string, options: ReadLevelOptions, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  const { entries } = await readLevel(dir, rel, options)
  for (const e of entries) {
    if (e.kind !== 'dir') continue
    const p = path.join(dir, e.name)
    const ancestors = new Set(options.ancestors).add(identity(await fs.stat(p)))
    await checkTree(p, join(rel, e.name), { ...options, ancestors }, signal)
  }
}

class TreeAdder {
  files = 0
  dirs = 0
  bytes = 0
  readonly changed: string[] = []
  readonly skipped: string[] = []

  constructor (private readonly sink: DirSink, private readonly rootReal: string, private readonly options: AddLocalDirOptions) {}

  /** Stores one directory and everything below it; answers its manifest's sha1 and the file bytes below it. */
  async level (dir: string, rel: string, ancestors: Set<string>): Promise<{ sha1: string, size: number }> {
    const { signal, followSymlinks } = this.options
    signal?.throwIfAborted()
    const { entries, skipped } = await readLevel(dir, rel, { rootReal: this.rootReal, followSymlinks: followSymlinks === true, ancestors })
    this.skipped.push(...skipped)
    const out: DirEntry[] = []
    const files = entries.filter((e) => e.kind === 'file')
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const e = files[next++]
        out.push(await this.file(e, dir, rel))
      }
    }
    await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, files.length) }, worker))
    for (const e of entries) {
      if (e.kind !== 'dir') continue
      const p = path.join(dir, e.name)
      const below = new Set(ancestors).add(identity(await fs.stat(p)))
      const sub = await this.level(p, join(rel, e.name), below)
      out.push({ name: e.name, kind: 'dir', sha1: sub.sha1, size: sub.size, exec: false })
    }
    const manifest = encodeDirManifest({ entries: out })
    const stored = await this.sink.putBytes(manifest, { signal })
    this.dirs++
    return { sha1: stored.sha1, size: out.reduce((n, e) => n + e.size, 0) }
  }

  /** Stores one file; its entry records the stored bytes' hash and size. */
  private async file (e: LocalEntry, dir: string, rel: string): Promise<DirEntry> {
    const { signal } = this.options
    signal?.throwIfAborted()
    const file = path.join(dir, e.name)
    const small = await readSmall(file, this.sink.io)
    let stored: { sha1: string, size: number }
    let before: Stats
    let changed: boolean
    if (small.bytes !== undefined) {
      before = small.before
      stored = await this.sink.putBytes(small.bytes, { signal })
      changed = small.changed
    } else {
      before = await fs.stat(file)
      stored = await this.sink.putFile(file, { signal })
      const after = await fs.stat(file)
      changed = small.changed || stored.size !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs
    }
    if (changed) this.changed.push(join(rel, e.name))
    this.files++
    this.bytes += stored.size
    this.options.onProgress?.({ files: this.files, bytes: this.bytes })
    return { name: e.name, kind: 'file', sha1: stored.sha1, size: stored.size, exec: (before.mode & 0o100) !== 0 }
  }
}

/**
 * A file of at most PACK_MAX_BYTES read whole (it goes into a pack file), with whether it changed
 * while read: its size or modification time moved between the stats around the read, or it
 * shrank under the read. No bytes for a larger file. The read goes through `io` when given (the
 * store's small-file worker: a batch of reads is one hand-off, not an open, read and close each).
 */
async function readSmall (file: string, io: DirSink['io']): Promise<{ bytes?: Buffer, before: Stats, changed: boolean }> {
  const before = await fs.stat(file).catch((err: unknown) => { throw fileError(file, err) })
  if (before.size > PACK_MAX_BYTES) return { before, changed: false }
  let bytes: Buffer
  try {
    // (the worker reads exactly the length asked for: an empty file is not asked of it)
    bytes = io !== undefined && before.size > 0 ? await io.read(file, 0, before.size) : await fs.readFile(file)
  } catch (err) {
    if ((err as { code?: string }).code === 'SHORT_READ') return { before, changed: true }
    throw fileError(file, err)
  }
  const after = await fs.stat(file)
  const changed = bytes.length !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs
  // grown past what was read: stored whole by the large-file path, and said to have changed
  if (changed && after.size > bytes.length) return { before, changed }
  return { bytes, before, changed }
}

/** The answer of `addDir` for a directory `addLocalDir` stored (before pin and ref). */
export function dirResult (dir: string, added: LocalDirAdded): AddDirResult {
  const r: AddDirResult = { uri: added.uri, sha1: added.sha1, name: path.basename(path.resolve(dir)), files: added.files, dirs: added.dirs, bytes: added.bytes }
  if (added.changed.length > 0) r.changed = added.changed
  if (added.skipped.length > 0) r.skipped = added.skipped
  return r
}
