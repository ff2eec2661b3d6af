import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FileExistsError } from './errors.js'

/** Writes all of `data` at `position`, looping over short writes (a full disk surfaces as the error). */
export async function writeFully (fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset, position + offset)
    offset += bytesWritten
  }
}

/** Fills `buf` from `position`, looping over short reads; answers the bytes read (fewer: the file ended first). */
export async function readFully (fh: fs.FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let filled = 0
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return filled
}

/** fsyncs a folder, so that names created or renamed in it survive a crash. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Suffix of a file being written before it is complete (`get -o`: beside its final name, in the same directory). */
export const PARTIAL_SUFFIX = '.trove-partial'

/**
 * Puts a finished file `tmp` at `dest` in one step, so `dest` never holds part of a file. Without
 * `force` an existing `dest` is never replaced, not even one that appeared meanwhile: the file is
 * hard-linked into place, which fails if the name is taken, and `tmp` then removed.
 */
export async function placeFile (tmp: string, dest: string, options: { force?: boolean } = {}): Promise<void> {
  if (options.force === true) {
    await fs.rename(tmp, dest)
    // a rename between two links of one file does nothing (`get -o F --force` of what F already links to)
    await fs.rm(tmp, { force: true })
    return
  }
  try {
    await fs.link(tmp, dest)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw fileExists(dest)
    // a filesystem without hard links: look, then rename (a file created in that instant is replaced)
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
    if (await fs.lstat(dest).then(() => true, () => false)) throw fileExists(dest)
    await fs.rename(tmp, dest)
    return
  }
  await fs.rm(tmp, { force: true })
}

export function fileExists (file: string): FileExistsError {
  return new FileExistsError(`${file} exists; give --force to overwrite it`)
}

/**
 * Writes `source` to `dest` by way of `dest.trove-partial`, so `dest` never holds part of a file.
 * Without `force` an existing `dest` is never replaced, not even one that appeared while the bytes
 * were coming: the finished file is hard-linked into place, which fails if the name is taken.
 * Resolves to the number of bytes written.
 */
export async function writeFileAtomically (dest: string, source: AsyncIterable<Uint8Array>, options: { force?: boolean } = {}): Promise<number> {
  const tmp = dest + PARTIAL_SUFFIX
  try {
    await pipeline(Readable.from(source), createWriteStream(tmp))
    const { size } = await fs.stat(tmp)
    await placeFile(tmp, dest, options)
    return size
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isPidAlive (pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
