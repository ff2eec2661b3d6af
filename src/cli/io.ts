import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FileExistsError, FileNotFoundError, InvalidArgumentError } from '../errors.js'

/** Suffix of the file a download is written to before it is complete. */
export const PARTIAL_SUFFIX = '.trove-partial'

/**
 * A clear error before anything is fetched, rather than an errno from the rename at the end:
 * `-o` naming a directory, a file in a directory that does not exist, or (without `force`) a file
 * that exists.
 */
export async function checkOutputPath (output: string, options: { force?: boolean } = {}): Promise<void> {
  const stat = await fs.stat(output).catch(() => undefined)
  if (stat?.isDirectory() === true) throw new InvalidArgumentError(`-o ${output} is a directory; give a file path`)
  const dir = path.dirname(path.resolve(output))
  const dirStat = await fs.stat(dir).catch(() => undefined)
  if (dirStat?.isDirectory() !== true) throw new FileNotFoundError(`cannot write ${output}: no such directory ${dir}`)
  if (stat !== undefined && options.force !== true) throw existsError(output)
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
    if (options.force === true) await fs.rename(tmp, dest)
    else await placeNew(tmp, dest)
    return size
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
}

async function placeNew (tmp: string, dest: string): Promise<void> {
  try {
    await fs.link(tmp, dest)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw existsError(dest)
    // a filesystem without hard links: look, then rename (a file created in that instant is replaced)
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
    if (await fs.lstat(dest).then(() => true, () => false)) throw existsError(dest)
    await fs.rename(tmp, dest)
    return
  }
  await fs.rm(tmp, { force: true })
}

function existsError (file: string): Error {
  return new FileExistsError(`${file} exists; give --force to overwrite it`)
}

export function ignoreEpipe (err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err
}
