import { createTrove } from '../node.js'
import type { TroveOps } from '../ops.js'
import type { GlobalOptions } from './output.js'

/**
 * The Trove a command talks to. With no node running, the command opens the data directory
 * itself (embedded mode) and closes it when done.
 */
export async function openBackend (opts: GlobalOptions, command: string): Promise<TroveOps> {
  return createTrove({ dataDir: opts.data, command: `trove ${command}` })
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
