import { constants } from 'node:fs'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import type { ChunkHasher } from './chunk-hasher.js'

/**
 * How long the hash pass waits when it has caught up with the copy. The copy runs at disk speed
 * and the hash at ~2 GB/s, so the hash catches up often; a few ms keeps the pass from spinning
 * on empty reads without letting it fall behind.
 */
const CATCH_UP_WAIT_MS = 2

export interface CopyHashOptions {
  /** Read size of the hash pass. */
  chunkSize: number
  chunker?: ChunkHasher
  signal?: AbortSignal
  /** Bytes copied and hashed so far. */
  onProgress?: (bytes: number) => void
  /** fsync the copy before answering. */
  durable: boolean
}

export interface CopyHashResult {
  sha1: string
  size: number
}

/**
 * Copies a local file to `dest` (a new path) in the kernel (copy_file_range, or a reflink where
 * the filesystem has them) while hashing the copy as it grows, from the page cache. No bytes cross
 * into this process for the copy, the hash pass trails it instead of following it, and the hash is
 * of the bytes actually stored, so a source that changes while it is added cannot end up under a
 * hash it does not have. One read-hash-write pass through user space costs more; so does hashing
 * after the copy (bench/ingest.ts, docs/performance.md).
 */
export async function copyAndHash (source: string, dest: string, options: CopyHashOptions): Promise<CopyHashResult> {
  const { chunkSize, chunker, signal, onProgress } = options
  // created here (read-write) so the hash pass can read what the copy has written so far; the
  // kernel only moves a file's size past bytes that are already in it
  const fh = await fs.open(dest, 'wx+', 0o644)
  try {
    let copyDone = false
    let copyError: unknown
    const copy = fs.copyFile(source, dest, constants.COPYFILE_FICLONE).then(
      () => { copyDone = true },
      (err: unknown) => { copyDone = true; copyError = err })
    const hash = createHash('sha1')
    const buffer = Buffer.allocUnsafeSlow(chunkSize)
    let position = 0
    for (;;) {
      // sampled before the read: a short read after the copy ended is the end of the file
      const ended = copyDone
      const { bytesRead } = await fh.read(buffer, 0, chunkSize, position)
      if (bytesRead > 0) {
        const chunk = buffer.subarray(0, bytesRead)
        hash.update(chunk)
        // the chunker copies what it keeps, so the buffer is free again once update returns
        if (chunker !== undefined) await chunker.update(chunk)
        position += bytesRead
        onProgress?.(position)
      }
      if (signal?.aborted === true) {
        // the kernel copy cannot be interrupted; it finishes into a file the caller removes
        signal.throwIfAborted()
      }
      if (bytesRead === chunkSize) continue
      if (ended) {
        if (bytesRead === 0) break
        continue
      }
      await Promise.race([copy, new Promise((resolve) => setTimeout(resolve, CATCH_UP_WAIT_MS))])
    }
    await copy
    if (copyError !== undefined) throw copyError
    // the copy takes the source's mode (perhaps read-only or private); blobs have one mode
    await fh.chmod(0o644)
    if (options.durable) await fh.sync()
    return { sha1: hash.digest('hex'), size: position }
  } finally {
    await fh.close()
  }
}
