import { constants, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { BlobNotFoundError, InvalidDirManifestError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { BlobInfo, BlobStore, LocatedBlob } from '../store/blob-store.js'
import { SMALL_IO_MAX_BYTES, smallFileIo, type SmallFileIo } from '../store/small-io.js'
import { MAX_DIR_MANIFEST_BYTES } from './constants.js'
import type { TreeFetcher } from './fetch-tree.js'
import type { FileToWrite, TreeWriter } from './get-dir.js'
import type { DirReadOptions } from './resolve.js'

/** Index look-ups per pass when a directory's files are written (the fetcher's batch size too). */
const STAT_BATCH = 1024
/**
 * Files up to this size are written many at once, so that a batch's reads and writes go to the
 * store's small-file worker in a few large hand-offs: at most SMALL_WRITE_CONCURRENCY x this is
 * buffered (8 MiB).
 */
const SMALL_WRITE_BYTES = 64 * 1024
/** Small files in flight: the small-file worker's own batch size (MAX_BATCH_JOBS in small-io.ts). */
const SMALL_WRITE_CONCURRENCY = 128
/** Larger files in flight: copies overlap; a packed one of up to SMALL_IO_MAX_BYTES is buffered each. */
const WRITE_CONCURRENCY = 8

export interface StoreTreeComponents {
  store: Pick<BlobStore, 'statMany' | 'readBytes' | 'read' | 'lease' | 'pathOf'>
  /** Where small files are written (default: the store's own small-file worker). */
  io?: Pick<SmallFileIo, 'write'>
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
  const io = c.io ?? smallFileIo
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
    async writeFiles (files, options) {
      // a thousand stats per index pass, then the copies: many at once, so small reads and
      // writes go to the store's small-file worker in batches rather than a thread-pool hop each
      for (let i = 0; i < files.length; i += STAT_BATCH) {
        const part = files.slice(i, i + STAT_BATCH)
        const infos = await store.statMany(part.map((f) => f.sha1))
        // small files many at once (what they buffer is small), larger ones a few at a time
        const small = part.map((f, j) => j).filter((j) => part[j].size <= SMALL_WRITE_BYTES)
        const large = part.map((f, j) => j).filter((j) => part[j].size > SMALL_WRITE_BYTES)
        const run = async (indices: number[], concurrency: number): Promise<void> => {
          let next = 0
          const worker = async (): Promise<void> => {
            while (next < indices.length) {
              const j = indices[next++]
              options.signal?.throwIfAborted()
              await writeOne(part[j], infos[j])
              options.onWritten(part[j].size)
            }
          }
          await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker))
        }
        await run(small, SMALL_WRITE_CONCURRENCY)
        await run(large, WRITE_CONCURRENCY)
      }
    }
  }

  async function writeOne (f: FileToWrite, info: LocatedBlob | undefined): Promise<void> {
    const { sha1, size, file, exec } = f
    if (info === undefined) throw new BlobNotFoundError(`sha1://${sha1} is not stored here (evicted meanwhile?); run the command again`)
    if (info.size !== size) throw new InvalidDirManifestError(`the directory lists sha1://${sha1} with ${size} bytes, but that blob has ${info.size}`)
    if (info.place === 'file') {
      const release = store.lease(sha1)
      try {
        // EXCL: never onto anything that exists (nor through a link); the copy takes the blob file's mode
        await fs.copyFile(store.pathOf(sha1), file, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
      } finally {
        release()
      }
    } else if (size <= SMALL_IO_MAX_BYTES) {
      // created exclusively (O_EXCL) by the small-file worker, not fsynced: the tree is renamed into place whole
      await io.write(file, await store.readBytes(sha1, { info }), false)
    } else {
      await pipeline(await store.read(sha1, { info }), createWriteStream(file, { flags: 'wx', mode: 0o644 }))
    }
    if (exec) await fs.chmod(file, 0o755)
  }
}
