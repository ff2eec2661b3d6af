import type { Dirent, Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, FileNotReadableError, InvalidDirEntryError } from '../errors.js'
import { nameProblem } from './manifest.js'

/**
 * One entry of a local directory that can be recorded: a regular file or a directory (through a
 * followed symlink, what it points to). Its path is its directory's joined with its name: not
 * kept, so a folder of 100,000 entries does not hold 200,000 path strings besides the names.
 */
export interface LocalEntry {
  name: string
  kind: 'file' | 'dir'
}

export interface ReadLevelOptions {
  /** The tree root's real path: a followed symlink must resolve inside it. */
  rootReal: string
  followSymlinks: boolean
  /** `dev:ino` of every directory from the root down to this one: a followed link back into one is a loop. */
  ancestors: ReadonlySet<string>
}

export interface Level {
  entries: LocalEntry[]
  /** Sockets, FIFOs and devices left out (relative paths). */
  skipped: string[]
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The entries of one directory, checked: names must be valid UTF-8 single path segments, a
 * symlink is refused unless followed, and a followed one must stay inside the tree and not loop.
 * Sockets, FIFOs and devices are skipped (listed in `skipped`): they have no content to store, and
 * refusing the whole directory for a stray socket would make `add` of a live work folder fail.
 * One level only: the caller descends, so memory holds the levels on the current path, not the tree.
 */
export async function readLevel (dir: string, rel: string, options: ReadLevelOptions): Promise<Level> {
  const dirents = await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' }).catch((err: unknown) => { throw fileError(dir, err) }) as unknown as Array<Dirent<Buffer>>
  const entries: LocalEntry[] = []
  const skipped: string[] = []
  for (const d of dirents) {
    const raw = d.name as unknown as Buffer
    let name: string
    try {
      name = utf8.decode(raw)
    } catch {
      throw new InvalidDirEntryError(`name is not valid UTF-8: ${join(rel, raw.toString('utf8'))} (in ${dir})`)
    }
    const where = join(rel, name)
    const problem = nameProblem(name)
    if (problem !== undefined) throw new InvalidDirEntryError(`cannot record ${JSON.stringify(where)}: ${problem}`)
    const p = path.join(dir, name)
    let type = typeOf(d)
    if (type === 'unknown') type = statType(await fs.lstat(p))
    if (type === 'link') type = await followed(p, where, options)
    if (type === 'other') skipped.push(where)
    else entries.push({ name, kind: type })
  }
  return { entries, skipped }
}

/** A failure to read a file or folder of the tree, as the error the user should see. */
export function fileError (p: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') return new FileNotReadableError(`cannot read ${p}: ${code}`, { cause: err })
  return new FileNotFoundError(`cannot read ${p}: ${code ?? String(err)}`, { cause: err })
}

/** `dev:ino` of a directory, for loop detection. */
export function identity (st: Stats): string {
  return `${st.dev}:${st.ino}`
}

type EntryType = 'file' | 'dir' | 'link' | 'other' | 'unknown'

function typeOf (d: Dirent<Buffer>): EntryType {
  if (d.isFile()) return 'file'
  if (d.isDirectory()) return 'dir'
  if (d.isSymbolicLink()) return 'link'
  if (d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return 'other'
  // some filesystems do not fill in the type: lstat says
  return 'unknown'
}

function statType (st: Stats): Exclude<EntryType, 'unknown'> {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'dir'
  if (st.isSymbolicLink()) return 'link'
  return 'other'
}

/** What a symlink is recorded as: refused unless followed; followed, what it resolves to inside the tree. */
async function followed (p: string, where: string, options: ReadLevelOptions): Promise<'file' | 'dir' | 'other'> {
  if (!options.followSymlinks) throw new InvalidDirEntryError(`symlink refused: ${where} (give --follow-symlinks to store what links inside the tree point to)`)
  let real: string
  try {
    real = await fs.realpath(p)
  } catch (err) {
    throw new InvalidDirEntryError(`symlink ${where} cannot be followed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
  }
  if (real !== options.rootReal && !real.startsWith(options.rootReal + path.sep)) {
    throw new InvalidDirEntryError(`symlink ${where} leads out of the directory being added (to ${real}); it is not followed`)
  }
  const st = await fs.stat(real)
  const type = statType(st)
  if (type === 'dir' && options.ancestors.has(identity(st))) throw new InvalidDirEntryError(`symlink ${where} leads back into a directory that contains it (a loop)`)
  return type === 'link' ? 'other' : type
}

/** A path relative to the tree's root, with `/`: what messages name. */
export function join (rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`
}
