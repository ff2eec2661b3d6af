import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createTrove, type Trove, type TroveOptions } from '../../src/node.js'
import { tempDir } from './tmp.js'

export interface TempTrove {
  trove: Trove
  dir: string
  /** Closes the current Trove and opens the same data directory again (counters, refs must survive). */
  reopen: (options?: Omit<TroveOptions, 'dataDir'>) => Promise<Trove>
  /** Closes the Trove (if open) and removes the directory. Safe to call twice. */
  cleanup: () => Promise<void>
}

/**
 * A Trove on a fresh temp data directory. Not durable by default: fsync buys nothing in a
 * throwaway store and makes tests slow on shared CI disks.
 */
export async function openTempTrove (options: Omit<TroveOptions, 'dataDir' | 'create'> = {}, dir?: string): Promise<TempTrove> {
  const tmp = dir === undefined ? await tempDir('trove-unit-') : { dir, cleanup: async () => { await fs.rm(dir, { recursive: true, force: true }) } }
  const dataDir = path.join(tmp.dir, 'data')
  const open = async (o: Omit<TroveOptions, 'dataDir'> = {}): Promise<Trove> =>
    createTrove({ durable: false, by: 'test@unit', ...options, ...o, dataDir, create: true })
  const handle: TempTrove = {
    trove: await open(),
    dir: dataDir,
    reopen: async (o) => {
      await handle.trove.close()
      handle.trove = await open(o)
      return handle.trove
    },
    cleanup: async () => {
      await handle.trove.close()
      await tmp.cleanup()
    }
  }
  return handle
}

export function sha1Of (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** Drains a stream or async iterable of bytes into one Buffer. */
export async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of source) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

/** A syntactically valid sha1 for tests that only need a name (not stored content). */
export function fakeSha1 (n: number): string {
  return sha1Of(`fake-${n}`)
}
