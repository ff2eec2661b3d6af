import fs from 'node:fs/promises'
import type { ApiClient } from '../api/client.js'
import { DISCOVERY_TIMEOUT_MS } from '../api/constants.js'
import { isPidAlive, readDiscovery } from '../api/discovery.js'
import { readApiToken } from '../api/token.js'
import { resolveDataDir } from '../datadir.js'
import type { TroveOps } from '../ops.js'
import type { GlobalOptions } from './output.js'

/**
 * The Trove a command talks to. When a node runs on the data directory (it holds the database
 * lock), the command goes through that node's HTTP API; otherwise the command opens the data
 * directory itself (embedded mode) and closes it when done. Both print the same.
 */
export async function openBackend (opts: GlobalOptions, command: string): Promise<TroveOps> {
  const dataDir = resolveDataDir(opts.data)
  const client = await connectToNode(dataDir)
  if (client !== undefined) return client
  // the store, LevelDB and the space manager are loaded only for an embedded command: a command a
  // running node serves starts without them (part of its time to first byte, bench/cli)
  const { openWaitingForLock } = await import('./lock-wait.js')
  return openWaitingForLock(dataDir, `trove ${command}`, async () => connectToNode(dataDir))
}

/**
 * A client for the node running on `dataDir`, or undefined when none is: no discovery file, its
 * process is gone (a crashed node leaves the file behind), or it does not answer `GET /status`
 * for this very data directory in time. In the last case the embedded open that follows fails
 * with DATA_DIR_LOCKED naming the process, which is the clearest thing to tell the user.
 */
export async function connectToNode (dataDir: string, timeoutMs = DISCOVERY_TIMEOUT_MS): Promise<ApiClient | undefined> {
  const info = await readDiscovery(dataDir)
  if (info === undefined || !isPidAlive(info.pid)) return undefined
  // without the token reads still work; writes then fail with UNAUTHORIZED, which says why
  const token = await readApiToken(dataDir).catch(() => undefined)
  // loaded only when a node runs: the HTTP client's modules cost an embedded command memory and start-up time
  const { ApiClient } = await import('../api/client.js')
  const client = new ApiClient({ url: info.url, token })
  try {
    const status = await client.status({ signal: AbortSignal.timeout(timeoutMs) })
    if (status.mode !== 'node' || !await sameDir(status.dataDir, dataDir)) return undefined
  } catch {
    return undefined
  }
  return client
}

async function sameDir (a: string, b: string): Promise<boolean> {
  if (a === b) return true
  const [ra, rb] = await Promise.all([fs.realpath(a).catch(() => a), fs.realpath(b).catch(() => b)])
  return ra === rb
}

/** Whether `ops` is a running node (the API of `trove start`), not a data directory opened by this command. */
export function runsNode (ops: TroveOps): boolean {
  // not `instanceof Trove`: that would load the whole node into every command that asks
  return !('store' in ops) || (ops as { network?: unknown }).network !== undefined
}

/** Runs `fn` against a backend and always closes it, so the data directory lock is released. */
export async function withBackend<T> (opts: GlobalOptions, command: string, fn: (ops: TroveOps) => Promise<T>): Promise<T> {
  const ops = await openBackend(opts, command)
  try {
    return await fn(ops)
  } finally {
    await ops.close()
  }
}
