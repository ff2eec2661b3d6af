import fs from 'node:fs/promises'
import { isPidAlive } from '../api/discovery.js'
import { layout } from '../datadir.js'
import type { OwnerInfo } from '../db.js'
import { DataDirLockedError, isError } from '../errors.js'
import { createTrove, type Trove, type TroveOptions } from '../node.js'

/**
 * How long a command waits for a data directory held by another one-shot CLI command (parallel
 * `trove add`s in a script) or by a node that is still starting. Long enough for typical
 * commands, short enough that a stuck holder is reported rather than waited on forever.
 */
export const LOCK_WAIT_MS = 30_000
export const LOCK_POLL_MS = 100

/** Who holds the data directory, from the owner file the holder wrote (undefined if unknown or gone). */
export async function lockOwner (dataDir: string): Promise<OwnerInfo | undefined> {
  try {
    const owner = JSON.parse(await fs.readFile(layout(dataDir).owner, 'utf8')) as OwnerInfo
    return isPidAlive(owner.pid) ? owner : undefined
  } catch {
    return undefined
  }
}

export function isOneShotCommand (owner: OwnerInfo | undefined): boolean {
  return owner?.command.startsWith('trove ') === true && owner.command !== 'trove start'
}

/**
 * Opens the data directory embedded. While another one-shot CLI command holds it, waits and
 * retries; `whileNodeStarting` is asked each round when the holder is a starting node (the
 * caller may connect to its API instead) and ends the wait by returning a value. Without it the
 * answer is always the node (T defaults to never).
 */
export async function openWaitingForLock<T = never> (dataDir: string, command: string, whileNodeStarting?: () => Promise<T | undefined>, init: Pick<TroveOptions, 'logger'> = {}): Promise<Trove | T> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      return await createTrove({ dataDir, command, logger: init.logger })
    } catch (err) {
      if (!isError(err, DataDirLockedError) || Date.now() > deadline) throw err
      const owner = await lockOwner(dataDir)
      if (owner?.command === 'trove start') {
        if (whileNodeStarting === undefined) throw err
        const other = await whileNodeStarting()
        if (other !== undefined) return other
      } else if (owner !== undefined && !isOneShotCommand(owner)) {
        // a program using the library, or something else that will not let go soon
        throw err
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS))
    }
  }
}
