/**
 * Runs a batch of small-file operations (see small-io.ts) as plain blocking system calls, fsyncs
 * overlapping on the thread pool. On the small-file worker thread for bursts; on the main thread
 * for the odd small batch while no worker runs (SmallFileIo.post).
 */
import fs from 'node:fs'
import { promisify } from 'node:util'
import { OP_READ, OP_RENAME, OP_WRITE, type IoBatch, type IoReply } from './small-io-proto.js'

const fsync = promisify(fs.fsync)

export async function runBatch (batch: IoBatch): Promise<IoReply> {
  const { ops, nums } = batch
  const paths = batch.paths.split('\0')
  const errors: IoReply['errors'] = []
  const fail = (i: number, err: unknown): void => {
    const e = err as NodeJS.ErrnoException
    errors.push([i, e?.message ?? String(err), e?.code])
  }
  // reads land back to back in one buffer that is moved (not copied) to the caller
  let readBytes = 0
  for (let i = 0; i < ops.length; i++) if (ops[i] === OP_READ) readBytes += nums[2 * i + 1]
  const out = readBytes > 0 ? new Uint8Array(readBytes) : undefined
  let outAt = 0
  let inAt = 0
  let p = 0
  const syncing: Array<Promise<void>> = []
  for (let i = 0; i < ops.length; i++) {
    const path = paths[p++]
    try {
      if (ops[i] === OP_WRITE) {
        const length = nums[2 * i]
        const bytes = new Uint8Array(batch.data as ArrayBuffer, inAt, length)
        inAt += length
        const fd = write(path, bytes)
        if (nums[2 * i + 1] === 0) {
          fs.closeSync(fd)
          continue
        }
        // fsyncs of a batch overlap on the thread pool, as they did when each blob had its own
        syncing.push(fsync(fd).then(
          () => { fs.closeSync(fd) },
          (err: unknown) => { closeAndRemove(fd, path); fail(i, err) }
        ))
      } else if (ops[i] === OP_READ) {
        const length = nums[2 * i + 1]
        const view = (out as Uint8Array).subarray(outAt, outAt + length)
        outAt += length
        read(path, view, nums[2 * i])
      } else if (ops[i] === OP_RENAME) {
        fs.renameSync(path, paths[p++])
      } else {
        fs.rmSync(path, { force: true })
      }
    } catch (err) {
      fail(i, err)
    }
  }
  await Promise.all(syncing)
  return { id: batch.id, errors, data: out?.buffer }
}

/** Creates the file (it must not exist) and writes all of `bytes`; returns the open fd. */
function write (path: string, bytes: Uint8Array): number {
  const fd = fs.openSync(path, 'wx', 0o644)
  try {
    let done = 0
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, done)
    return fd
  } catch (err) {
    closeAndRemove(fd, path)
    throw err
  }
}

function read (path: string, into: Uint8Array, position: number): void {
  const fd = fs.openSync(path, 'r')
  try {
    let done = 0
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, into.length - done, position + done)
      if (n === 0) throw Object.assign(new Error('file is shorter than expected'), { code: 'SHORT_READ' })
      done += n
    }
  } finally {
    fs.closeSync(fd)
  }
}

function closeAndRemove (fd: number, path: string): void {
  try { fs.closeSync(fd) } catch {}
  try { fs.rmSync(path, { force: true }) } catch {}
}
