import { layout, type DataDirLayout } from '../../src/datadir.js'
import { openDb, type TroveDb } from '../../src/db.js'
import type { ComponentLogger } from '../../src/logger.js'
import type { BlobIndex } from '../../src/store/blob-index.js'
import { BlobStore, type BlobStoreInit } from '../../src/store/blob-store.js'
import type { Leases } from '../../src/store/leases.js'
import type { PackFiles } from '../../src/store/packs.js'
import type { ShardedPaths } from '../../src/store/paths.js'
import { tempDir } from './tmp.js'

/** A BlobStore's private parts. The node's code reaches them only through the store's methods. */
export interface StoreParts {
  index: BlobIndex
  packs: PackFiles
  leases: Leases
  paths: ShardedPaths
}

/**
 * The store's parts, for white-box tests of the packs, the index and verify (the pack list and
 * files, a compaction asked for directly, a write slipped in before verify's repair).
 */
export function partsOf (store: BlobStore): StoreParts {
  return store as unknown as StoreParts
}

export interface TempStore {
  store: BlobStore
  db: TroveDb
  layout: DataDirLayout
  /** Closes the store and its database and opens them again on the same folder. */
  reopen: () => Promise<BlobStore>
  /** Closes (if open) and removes the folder. */
  cleanup: () => Promise<void>
}

/**
 * A BlobStore alone (no refs, no space management) on a fresh temp data directory and its own
 * database. Not durable unless `init` says so.
 */
export async function openTempStore (init: BlobStoreInit = {}, components: { logger?: ComponentLogger } = {}): Promise<TempStore> {
  const tmp = await tempDir('trove-store-')
  const dirs = layout(tmp.dir)
  const open = async (): Promise<{ db: TroveDb, store: BlobStore }> => {
    const db = await openDb(dirs.db, dirs.owner)
    const store = new BlobStore({ db, layout: dirs, ...components }, { durable: false, ...init })
    await store.open()
    return { db, store }
  }
  let opened: { db: TroveDb, store: BlobStore } | undefined = await open()
  const close = async (): Promise<void> => {
    if (opened === undefined) return
    const { db, store } = opened
    opened = undefined
    await store.close()
    await db.close()
  }
  const handle: TempStore = {
    ...opened,
    layout: dirs,
    reopen: async () => {
      await close()
      opened = await open()
      handle.store = opened.store
      handle.db = opened.db
      return opened.store
    },
    cleanup: async () => {
      await close()
      await tmp.cleanup()
    }
  }
  return handle
}
