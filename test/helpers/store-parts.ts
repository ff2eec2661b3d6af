import type { BlobIndex } from '../../src/store/blob-index.js'
import type { BlobStore } from '../../src/store/blob-store.js'
import type { Leases } from '../../src/store/leases.js'
import type { PackFiles } from '../../src/store/packs.js'
import type { ShardedPaths } from '../../src/store/paths.js'

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
