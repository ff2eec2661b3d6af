import { Worker } from 'node:worker_threads'
import { NextTurn } from '../serial.js'
import { OP_READ, OP_REMOVE, OP_RENAME, OP_WRITE, type IoBatch, type IoJob, type IoReply } from './small-io-proto.js'
import { runBatch } from './small-io-run.js'

/**
 * Files up to this size are written and read through SmallFileIo: whole in memory, a batch of
 * them is a few hundred KiB. Same bound as the fetcher's small blobs (SMALL_BLOB_MAX).
 */
export const SMALL_IO_MAX_BYTES = 1024 * 1024
/** Operations in one message to the worker: bounds how long one batch holds the others up. */
const MAX_BATCH_JOBS = 256
/** Bytes one batch carries (written or read): bounds the memory a batch holds. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024
/**
 * Batches sent before the first is answered. Two: while the worker waits for one batch's fsyncs
 * (durable stores) it starts on the next, and the next collects what arrives meanwhile.
 */
const BATCHES_IN_FLIGHT = 2
/** An idle worker exits after this long (its isolate holds ~10 MB); the next operation starts one again. */
const IDLE_EXIT_MS = 15_000
/**
 * A batch this small, with no worker running, runs on the main thread instead of starting one: a
 * one-shot `trove add` stores a manifest or two, and a worker's isolate (~10 MB, tens of ms to
 * start) would cost more than the operations (it took `bench/ingest`'s peak RSS past 100 MB).
 * A burst (a fetched ref) still starts the worker with its first larger batch.
 */
const INLINE_MAX_JOBS = 4

interface Pending {
  job: IoJob
  bytes?: Uint8Array
  resolve: (value: Buffer | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Small-file operations (create-and-write, read, rename, remove) run in batches as blocking
 * system calls on one worker thread. Through fs/promises each one is a round trip through the
 * thread pool (open, write, close, rename: four per stored blob, three per read), and with
 * thousands of 4 KiB blobs those hand-offs, not the system calls, were most of the CPU on both
 * sides of a fetch (bench/small). Here a whole batch costs one message each way. Operations
 * asked for in the same turn of the event loop go together; while batches are out, the next
 * one collects. The worker starts on first use and exits when idle.
 */
export class SmallFileIo {
  private worker: Worker | undefined
  private queue: Pending[] = []
  private readonly inFlight = new Map<number, Pending[]>()
  private nextId = 0
  /** After this turn's I/O callbacks: what they ask for joins the same batch. */
  private readonly next = new NextTurn(() => { this.pump() })
  private idle: NodeJS.Timeout | undefined

  /** Creates `path` (it must not exist) holding `bytes`; with `sync`, fsynced before this resolves. */
  async write (path: string, bytes: Uint8Array, sync: boolean): Promise<void> {
    await this.submit({ op: 'write', path, length: bytes.byteLength, sync }, bytes)
  }

  /** `length` bytes of `path` from `position`; an error with code SHORT_READ if the file has fewer. */
  async read (path: string, position: number, length: number): Promise<Buffer> {
    return await this.submit({ op: 'read', path, position, length }) as Buffer
  }

  async rename (path: string, to: string): Promise<void> {
    await this.submit({ op: 'rename', path, to })
  }

  /** Removes `path`; a missing file is not an error. */
  async remove (path: string): Promise<void> {
    await this.submit({ op: 'remove', path })
  }

  private async submit (job: IoJob, bytes?: Uint8Array): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, bytes, resolve, reject })
      this.next.request()
    })
  }

  private pump (): void {
    while (this.queue.length > 0 && this.inFlight.size < BATCHES_IN_FLIGHT) {
      let bytes = 0
      let n = 0
      while (n < this.queue.length && n < MAX_BATCH_JOBS) {
        const job = this.queue[n].job
        const size = job.op === 'write' || job.op === 'read' ? job.length : 0
        if (n > 0 && bytes + size > MAX_BATCH_BYTES) break
        bytes += size
        n++
      }
      this.post(this.queue.splice(0, n))
    }
  }

  private post (batch: Pending[]): void {
    const worker = this.worker === undefined && batch.length <= INLINE_MAX_JOBS ? undefined : this.start()
    const id = this.nextId++
    const ops = new Uint8Array(batch.length)
    const nums = new Float64Array(batch.length * 2)
    const paths: string[] = []
    let writeBytes = 0
    for (const [i, { job }] of batch.entries()) {
      paths.push(job.path)
      if (job.op === 'write') {
        ops[i] = OP_WRITE
        nums[2 * i] = job.length
        nums[2 * i + 1] = job.sync ? 1 : 0
        writeBytes += job.length
      } else if (job.op === 'read') {
        ops[i] = OP_READ
        nums[2 * i] = job.position
        nums[2 * i + 1] = job.length
      } else if (job.op === 'rename') {
        ops[i] = OP_RENAME
        paths.push(job.to)
      } else {
        ops[i] = OP_REMOVE
      }
    }
    // what is written travels in one buffer moved to the worker: structured clone would copy
    // each piece's whole backing buffer (often a 64 KiB network frame) instead
    let data: ArrayBuffer | undefined
    if (writeBytes > 0) {
      data = new ArrayBuffer(writeBytes)
      const all = new Uint8Array(data)
      let at = 0
      for (const p of batch) {
        if (p.bytes === undefined) continue
        all.set(p.bytes, at)
        at += p.bytes.byteLength
      }
    }
    this.inFlight.set(id, batch)
    const message: IoBatch = { id, ops, nums, paths: paths.join('\0'), data }
    if (worker === undefined) {
      runBatch(message).then((reply) => { this.answer(reply) }, (err: unknown) => {
        const e = err as NodeJS.ErrnoException
        this.answer({ id, errors: batch.map((_, i) => [i, e?.message ?? String(err), e?.code]) })
      })
      return
    }
    worker.postMessage(message, data !== undefined ? [data, ops.buffer, nums.buffer] : [ops.buffer, nums.buffer])
  }

  private start (): Worker {
    if (this.idle !== undefined) {
      clearTimeout(this.idle)
      this.idle = undefined
    }
    if (this.worker !== undefined) {
      // keeps the process alive while operations are out (a CLI command may wait on nothing else)
      this.worker.ref()
      return this.worker
    }
    const worker = new Worker(new URL('./small-io-worker.js', import.meta.url))
    worker.on('message', (reply: IoReply) => { this.answer(reply) })
    worker.on('error', (err) => { this.fail(worker, err) })
    worker.on('exit', (code) => { this.fail(worker, new Error(`small-file I/O worker exited with code ${code}`)) })
    this.worker = worker
    return worker
  }

  private answer (reply: IoReply): void {
    const batch = this.inFlight.get(reply.id)
    if (batch === undefined) return
    this.inFlight.delete(reply.id)
    const failed = new Map<number, Error>()
    for (const [i, message, code] of reply.errors) failed.set(i, Object.assign(new Error(message), { code }))
    let at = 0
    for (const [i, p] of batch.entries()) {
      const err = failed.get(i)
      if (p.job.op === 'read') {
        // every read has its place in the reply's buffer, failed or not
        if (err === undefined) p.resolve(Buffer.from(reply.data as ArrayBuffer, at, p.job.length))
        at += p.job.length
      } else if (err === undefined) {
        p.resolve(undefined)
      }
      if (err !== undefined) p.reject(err)
    }
    this.pump()
    if (this.inFlight.size === 0 && this.queue.length === 0 && !this.next.pending) this.rest()
  }

  /** Nothing is out: the worker no longer keeps the process alive, and exits if it stays idle. */
  private rest (): void {
    const worker = this.worker
    if (worker === undefined) return
    worker.unref()
    this.idle = setTimeout(() => {
      this.idle = undefined
      if (this.worker !== worker || this.inFlight.size > 0 || this.queue.length > 0) return
      this.worker = undefined
      void worker.terminate()
    }, IDLE_EXIT_MS)
    this.idle.unref()
  }

  /** The worker died: what it had fails; the next operation starts a new one. */
  private fail (worker: Worker, err: unknown): void {
    // an idle worker that was told to exit had nothing out
    if (this.worker !== worker) return
    this.worker = undefined
    const batches = [...this.inFlight.values()]
    this.inFlight.clear()
    for (const batch of batches) for (const p of batch) p.reject(err)
    if (this.queue.length > 0) this.pump()
  }
}

/** One worker for the process, shared by every store in it (tests open many). */
export const smallFileIo = new SmallFileIo()
