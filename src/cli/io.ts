import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, InvalidArgumentError } from '../errors.js'
import { PARTIAL_SUFFIX, fileExists, writeFileAtomically } from '../fs-util.js'

export { PARTIAL_SUFFIX, writeFileAtomically }

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
  if (stat !== undefined && options.force !== true) throw fileExists(output)
}

export function ignoreEpipe (err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err
}
