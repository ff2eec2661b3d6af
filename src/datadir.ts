import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DataDirMissingError, InvalidArgumentError, InvalidJsonError } from './errors.js'

/** Where each part of a data directory lives. Temp files share the blobs' filesystem so rename is atomic. */
export interface DataDirLayout {
  root: string
  db: string
  blobs: string
  /** Pack files of small blobs (src/store/packs.ts). */
  packs: string
  tmp: string
  /** Chunked downloads in progress, `<sha1>.part`, kept for resume (src/store/manifests.ts). */
  partial: string
  quarantine: string
  config: string
  owner: string
  apiToken: string
  key: string
}

export function resolveDataDir (dir?: string): string {
  const chosen = dir ?? process.env.TROVE_DATA ?? path.join(os.homedir(), '.trove')
  return path.resolve(chosen)
}

export function layout (root: string): DataDirLayout {
  return {
    root,
    db: path.join(root, 'db'),
    blobs: path.join(root, 'blobs'),
    packs: path.join(root, 'packs'),
    tmp: path.join(root, 'tmp'),
    partial: path.join(root, 'partial'),
    quarantine: path.join(root, 'quarantine'),
    config: path.join(root, 'config.json'),
    owner: path.join(root, 'owner.json'),
    apiToken: path.join(root, 'api-token'),
    key: path.join(root, 'peer-key')
  }
}

/** Settings a data directory keeps between runs; flags of `trove start` override them. */
export interface TroveConfig {
  listen?: string[]
  bootstrap?: string[]
  api?: { host?: string, port?: number }
  mdns?: boolean
  dht?: boolean
  maxSize?: string | number
  [key: string]: unknown
}

export const DEFAULT_CONFIG: TroveConfig = {
  listen: ['/ip4/0.0.0.0/tcp/4737'],
  bootstrap: [],
  api: { host: '127.0.0.1', port: 4738 },
  mdns: true,
  dht: false
}

export function isInitialized (root: string): boolean {
  return existsSync(layout(root).config)
}

export interface InitResult {
  dataDir: string
  created: boolean
}

/** Creates the data directory, its config and API token; running it again changes nothing. */
export async function initDataDir (root: string): Promise<InitResult> {
  const l = layout(root)
  const created = !isInitialized(root)
  await fs.mkdir(root, { recursive: true, mode: 0o700 })
  for (const dir of [l.blobs, l.packs, l.tmp, l.quarantine]) await fs.mkdir(dir, { recursive: true })
  if (!existsSync(l.apiToken)) {
    await fs.writeFile(l.apiToken, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' }).catch(ignoreExists)
  }
  if (created) {
    await fs.writeFile(l.config, JSON.stringify(DEFAULT_CONFIG, null, 2) + '\n', { flag: 'wx' }).catch(ignoreExists)
  }
  return { dataDir: root, created }
}

export async function ensureDataDir (root: string, options: { create?: boolean } = {}): Promise<void> {
  if (isInitialized(root)) {
    // directories may have been removed by hand; recreate the empty ones we need
    const l = layout(root)
    for (const dir of [l.blobs, l.packs, l.tmp, l.quarantine]) await fs.mkdir(dir, { recursive: true })
    return
  }
  if (options.create === true) {
    await initDataDir(root)
    return
  }
  throw new DataDirMissingError(`no Trove data directory at ${root} (run "trove init", or set --data / TROVE_DATA)`)
}

export async function readConfig (root: string): Promise<TroveConfig> {
  const file = layout(root).config
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch {
    return { ...DEFAULT_CONFIG }
  }
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    return { ...DEFAULT_CONFIG, ...(parsed as TroveConfig) }
  } catch (err) {
    throw new InvalidJsonError(`config file ${file} is not a JSON object: ${(err as Error).message}`)
  }
}

function ignoreExists (err: NodeJS.ErrnoException): void {
  if (err.code !== 'EEXIST') throw err
}

/**
 * Refuses (InvalidArgumentError) a directory to add that holds the data directory or lies inside
 * it: the store would be adding the files it is writing (`trove add ~` with the default
 * `~/.trove`). A path that does not resolve is left to the add to report.
 */
export async function assertNotDataDir (dir: string, dataDir: string): Promise<void> {
  const real = await fs.realpath(dir).catch(() => undefined)
  const data = await fs.realpath(dataDir).catch(() => undefined)
  if (real === undefined || data === undefined) return
  const within = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep)
  if (within(data, real)) throw new InvalidArgumentError(`${dir} holds Trove's data directory; Trove does not store its own files: add a directory that does not contain it`)
  if (within(real, data)) throw new InvalidArgumentError(`${dir} is inside Trove's data directory; Trove does not store its own files`)
}
