import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { createTrove, type Trove } from '../../src/node.js'
import type { SpaceLimitsInput } from '../../src/space/limits.js'
import { tempDir } from './tmp.js'

export interface SpaceTrove {
  trove: Trove
  dataDir: string
  reopen: (space?: SpaceLimitsInput) => Promise<Trove>
  cleanup: () => Promise<void>
}

/** A Trove on a temp directory with space limits; grace period 0 unless given, so tests decide what is young. */
export async function openSpaceTrove (space: SpaceLimitsInput = {}): Promise<SpaceTrove> {
  const tmp = await tempDir('trove-space-')
  const dataDir = path.join(tmp.dir, 'data')
  const open = async (s: SpaceLimitsInput): Promise<Trove> =>
    createTrove({ dataDir, create: true, durable: false, by: 'test@space', space: { gracePeriodMs: 0, ...s } })
  const handle: SpaceTrove = {
    trove: await open(space),
    dataDir,
    reopen: async (s = space) => {
      await handle.trove.close()
      handle.trove = await open(s)
      return handle.trove
    },
    cleanup: async () => {
      await handle.trove.close()
      await tmp.cleanup()
    }
  }
  return handle
}

/** Stores `size` random bytes (or the given content) and returns its sha1. */
export async function addBlob (trove: Trove, content: number | string | Uint8Array): Promise<string> {
  const bytes = typeof content === 'number' ? randomBytes(content) : typeof content === 'string' ? Buffer.from(content) : content
  const r = await trove.store.putBytes(bytes)
  return r.sha1
}

/** Flushes access times and finishes reclassification, so the index reflects every write so far. */
export async function settle (trove: Trove): Promise<void> {
  await trove.space.flushAccess()
  await trove.space.drain()
}

/** Sets the last use of blobs to given times (ms), in order: the eviction order's LRU input. */
export async function useAt (trove: Trove, uses: Array<[string, number]>): Promise<void> {
  for (const [sha1, at] of uses) trove.space.touch(sha1, at)
  await settle(trove)
}

export function uri (sha1: string): string {
  return `sha1://${sha1}`
}

export function sha1Of (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}
