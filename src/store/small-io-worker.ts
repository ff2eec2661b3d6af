/**
 * The thread behind SmallFileIo (small-io.ts): runs a batch of small-file operations as plain
 * blocking system calls and answers the batch with one message. See small-io.ts for why.
 */
import fs from 'node:fs'
import { promisify } from 'node:util'
import { parentPort } from 'node:worker_threads'
import type { IoBatch, IoJob, IoReply, IoResult } from './small-io.js'

const fsync = promisify(fs.fsync)

async function run (batch: IoBatch): Promise<IoReply> {
  const results: IoResult[] = new Array(batch.jobs.length)
  // reads land in one buffer that is moved (not copied) back to the caller
  let readBytes = 0
  for (const job of batch.jobs) if (job.op === 'read') readBytes += job.length
  const out = readBytes > 0 ? new ArrayBuffer(readBytes) : undefined
  let outAt = 0
  const syncing: Array<Promise<void>> = []
  for (const [i, job] of batch.jobs.entries()) {
    try {
      if (job.op === 'write') {
        const fd = write(job, batch.data as ArrayBuffer)
        results[i] = {}
        if (!job.sync) {
          fs.closeSync(fd)
          continue
        }
        // fsyncs of a batch overlap on the thread pool, as they did when each blob had its own
        syncing.push(fsync(fd).then(
          () => { fs.closeSync(fd) },
          (err: unknown) => { closeAndRemove(fd, job.path); results[i] = failure(err) }
        ))
      } else if (job.op === 'read') {
        const view = new Uint8Array(out as ArrayBuffer, outAt, job.length)
        read(job.path, view, job.position)
        results[i] = { at: outAt }
        outAt += job.length
      } else if (job.op === 'rename') {
        fs.renameSync(job.path, job.to)
        results[i] = {}
      } else {
        fs.rmSync(job.path, { force: true })
        results[i] = {}
      }
    } catch (err) {
      results[i] = failure(err)
    }
  }
  await Promise.all(syncing)
  return { id: batch.id, results, data: out }
}

/** Creates the file (it must not exist) and writes all of the job's bytes; returns the open fd. */
function write (job: Extract<IoJob, { op: 'write' }>, data: ArrayBuffer): number {
  const fd = fs.openSync(job.path, 'wx', 0o644)
  try {
    const bytes = new Uint8Array(data, job.at, job.length)
    let done = 0
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, done)
    return fd
  } catch (err) {
    closeAndRemove(fd, job.path)
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

function failure (err: unknown): IoResult {
  const e = err as NodeJS.ErrnoException
  return { error: { message: e?.message ?? String(err), code: e?.code } }
}

parentPort?.on('message', (batch: IoBatch) => {
  void run(batch).then(
    (reply) => { parentPort?.postMessage(reply, reply.data !== undefined ? [reply.data] : []) },
    (err: unknown) => { parentPort?.postMessage({ id: batch.id, results: batch.jobs.map(() => failure(err)) }) }
  )
})
