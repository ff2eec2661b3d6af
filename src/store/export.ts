import { constants, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { PARTIAL_SUFFIX, placeFile } from '../fs-util.js'
import type { BlobStore } from './blob-store.js'
import { BlobNotFoundError } from '../errors.js'

/** Errors of link(2) that mean "not here, copy instead": another filesystem, or none with hard links. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'])

/**
 * Puts a stored blob at `dest` (the caller holds a lease on it): a hard link to its file where
 * `dest` is on the data directory's filesystem and a copy is not asked for, so not one byte is
 * written again (a kernel copy of 1 GiB took 7 s of this machine's disk; bench/cli), else a
 * kernel copy (copy_file_range, or a reflink where the filesystem has them), and for a blob kept
 * in a pack file its range of the pack. A linked file's inode is made read-only: it is the
 * store's copy, which a write through `dest` would change (verify would quarantine it). Written
 * under `dest` + PARTIAL_SUFFIX and then put in place by placeFile.
 */
export async function exportStored (store: Pick<BlobStore, 'locate' | 'read'>, sha1: string, dest: string, options: { force?: boolean, copy?: boolean } = {}): Promise<{ size: number, how: 'link' | 'copy' }> {
  const where = await store.locate(sha1)
  if (where === undefined) throw new BlobNotFoundError(`blob not found: sha1://${sha1}`)
  const tmp = dest + PARTIAL_SUFFIX
  await fs.rm(tmp, { force: true })
  let how: 'link' | 'copy' = 'copy'
  try {
    if (!where.packed && options.copy !== true) {
      try {
        await fs.chmod(where.path, 0o444)
        await fs.link(where.path, tmp)
        how = 'link'
      } catch (err) {
        if (!NO_LINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err
      }
    }
    if (how === 'copy') {
      if (!where.packed) {
        await fs.copyFile(where.path, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
        // the copy is the user's own file
        await fs.chmod(tmp, 0o644)
      } else {
        await pipeline(await store.read(sha1), createWriteStream(tmp, { flags: 'wx' }))
      }
    }
    await placeFile(tmp, dest, options)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
  return { size: where.size, how }
}
