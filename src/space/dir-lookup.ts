import type { TroveDb } from '../db.js'
import { MAX_DIR_MANIFEST_BYTES } from '../dirs/constants.js'
import { decodeDirManifest, looksLikeDirManifest, type DirManifest } from '../dirs/manifest.js'
import type { BlobStore } from '../store/blob-store.js'
import { MAX_LINK_DEPTH } from './constants.js'
import { parentsOf } from './holds.js'

/** What finding a blob's directory reads: the links space keeps, and the stored manifests. */
export interface DirLookupComponents {
  db: Pick<TroveDb, 'spaceLinkedBy'>
  store: Pick<BlobStore, 'readBytes' | 'stat'>
}

/** Where a blob sits in a directory: the outermost directory manifest above it and the names down to it. */
export interface DirPlace {
  root: string
  path: string[]
}

/**
 * Finds the directory a blob belongs to by walking up the links space keeps (a manifest links to
 * each entry) through stored directory manifests, for `why` and the dry run's list. Decoded
 * manifests are cached for the lookup's life (one report), so a thousand files of one folder cost
 * one read of it.
 */
export class DirLookup {
  private readonly manifests = new Map<string, DirManifest | null>()

  constructor (private readonly components: DirLookupComponents) {}

  /** The outermost directory `sha1` is inside (through stored manifests), or undefined when none. */
  async placeOf (sha1: string): Promise<DirPlace | undefined> {
    let cur = sha1
    let root: string | undefined
    const path: string[] = []
    const seen = new Set([sha1])
    for (let depth = 0; depth < MAX_LINK_DEPTH; depth++) {
      let up: { parent: string, name: string } | undefined
      for (const parent of await parentsOf(this.components.db, cur)) {
        if (seen.has(parent)) continue
        const entry = (await this.manifest(parent))?.entries.find((e) => e.sha1 === cur)
        if (entry !== undefined) {
          up = { parent, name: entry.name }
          break
        }
      }
      if (up === undefined) break
      seen.add(up.parent)
      path.unshift(up.name)
      root = cur = up.parent
    }
    return root === undefined ? undefined : { root, path }
  }

  /** A stored blob's directory manifest, or undefined when it is not one (or not stored). */
  private async manifest (sha1: string): Promise<DirManifest | undefined> {
    const known = this.manifests.get(sha1)
    if (known !== undefined) return known ?? undefined
    let m: DirManifest | null = null
    try {
      const info = await this.components.store.stat(sha1)
      if (info !== undefined && info.size <= MAX_DIR_MANIFEST_BYTES) {
        const head = await this.components.store.readBytes(sha1, { length: Math.min(info.size, 12), quiet: true })
        if (looksLikeDirManifest(head)) m = decodeDirManifest(await this.components.store.readBytes(sha1, { quiet: true }))
      }
    } catch {
      // gone meanwhile, or a JSON blob that only looks like a manifest: not a directory
    }
    this.manifests.set(sha1, m)
    return m ?? undefined
  }
}
