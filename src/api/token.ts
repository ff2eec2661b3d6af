import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { layout } from '../datadir.js'
import { InvalidArgumentError } from '../errors.js'

/** Bytes of randomness in a new token: 256 bits, hex-encoded. */
const TOKEN_BYTES = 32

/**
 * The API token of a data directory (`api-token`, trimmed). `trove init` writes it; a directory
 * made before the API existed gets one here. The file is kept at mode 0600 because the token
 * grants write access to everything the node holds.
 */
export async function ensureApiToken (dataDir: string): Promise<string> {
  const file = layout(dataDir).apiToken
  try {
    await fs.writeFile(file, randomBytes(TOKEN_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const stat = await fs.stat(file)
  // group or other access (e.g. a copy made with a loose umask) would share the token; tighten it
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) await fs.chmod(file, 0o600)
  return readApiToken(dataDir)
}

/** Reads the token; fails (ENOENT) when the data directory has none. */
export async function readApiToken (dataDir: string): Promise<string> {
  const text = await fs.readFile(layout(dataDir).apiToken, 'utf8')
  const token = text.trim()
  if (token === '') throw new InvalidArgumentError(`the API token file ${layout(dataDir).apiToken} is empty; remove it and run "trove init"`)
  return token
}
