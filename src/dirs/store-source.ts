import { constants, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { BlobNotFoundError, InvalidDirManifestError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { BlobInfo, BlobStore } from '../store/blob-store.js'
import { SMALL_IO_MAX_BYTES } from '../store/small-io.js'
import { MAX_DIR_MANIFEST_BYTES } from './constants.js'
import type { TreeFetcher } from './fetch-tree.js'
import type { TreeWriter } from './get-dir.js'
import type { DirReadOptions } from './resolve.js'

export interface StoreTreeComponents {
  store: Pick<BlobStore, 'stat' | 'statMany' | 'readBytes' | 'read' | 'lease' | 'pathOf'>
  /** Makes one blob local (from peers when a network runs): the node's ensureLocal. */
  ensureLocal: (sha1: string, options: DirReadOptions) => Promise<BlobInfo>
  fetchMany: TreeFetcher['fetchMany']
  log?: Logger
}

/**
 * The node's side of reading a tree: manifests and blobs from its store (fetched from peers
 * first when missing), files written out by a kernel copy of the blob file (a reflink where the
 * filesystem has them), a small packed blob by one read and one write. No file's content is held
 * in memory beyond one small blob per writer.
 */
export function storeTree (c: StoreTreeComponents): TreeWriter {
  const { store } = c
  return {
    log: c.log,
    fetchMany: c.fetchMany,
    async readManifest (sha1, options) {
      const info = await c.ensureLocal(sha1, options)
      if (info.size > MAX_DIR_MANIFEST_BYTES) throw new InvalidDirManifestError(`sha1dir://${sha1} is not a directory manifest: ${info.size} bytes, more than ${MAX_DIR_MANIFEST_BYTES}`)
      return store.readBytes(sha1)
    },
    async sizesOf (sha1s) {
      const out: Array<number | undefined> = []
      // the index answers a thousand look-ups in one pass
      for (let i = 0; i < sha1s.length; i += 1024) {
        for (const info of await store.statMany(sha1s.slice(i, i + 1024))) out.push(info?.size)
      }
      return out
    },
    hold (sha1s) {
      const releases = sha1s.map((s) => store.lease(s))
      return () => { for (const r of releases) r() }
    },
    async writeFile (sha1, size, file, exec) {
      const info = await store.stat(sha1)
      if (info === undefined) throw new BlobNotFoundError(`sha1://${sha1} is not stored here (evicted meanwhile?); run the command again`)
      if (info.size !== size) throw new InvalidDirManifestError(`the directory lists sha1://${sha1} with ${size} bytes, but that blob has ${info.size}`)
      const mode = exec ? 0o755 : 0o644
      if (info.place === 'file') {
        const release = store.lease(sha1)
        try {
          // EXCL: never onto anything that exists (nor through a link); the copy takes the blob file's mode
          await fs.copyFile(store.pathOf(sha1), file, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
        } finally {
          release()
        }
        if (exec) await fs.chmod(file, mode)
      } else if (size <= SMALL_IO_MAX_BYTES) {
        await fs.writeFile(file, await store.readBytes(sha1, { info }), { flag: 'wx', mode })
      } else {
        await pipeline(await store.read(sha1, { info }), createWriteStream(file, { flags: 'wx', mode }))
      }
    }
  }
}
