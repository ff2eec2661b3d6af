import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { HashMismatchError, StorageFullError, isDiskFull } from '../errors.js'
import type { Logger } from '../logger.js'
import type { FetchProtocol, FetchSession } from '../protocols/fetch/index.js'
import { chunkRange, type Manifest, type PartialDownloads, type PartialState } from '../store/manifests.js'
import { alignedBuffer, BlockWriter } from './direct-io.js'
import { CHUNK_BUFFERS_PER_PEER, CHUNKS_IN_FLIGHT_PER_PEER, PARTIAL_SAVE_INTERVAL_MS } from './constants.js'
import { TransferFailedError } from './errors.js'
import type { Candidate } from './find.js'
import type { ChunkTap } from './follow.js'
import { OrderedHasher } from './ordered-hash.js'
import { faultWeight, type PeerScores } from './scores.js'

export interface ChunkedComponents {
  /** Resume state of the download (src/store/manifests.ts). */
  partials: Pick<PartialDownloads, 'get' | 'save'>
  fetch: Pick<FetchProtocol, 'open'>
  scores: PeerScores
  /** Write chunks with O_DIRECT where the filesystem allows (default true; see BlockWriter). */
  directWrites?: boolean
  log: Logger
}

export interface ChunkedOptions {
  signal?: AbortSignal
  onBytes: (bytes: number, peers: number) => void
  /** Asked for more providers when all current ones have dropped out. */
  moreCandidates: (exclude: Set<string>) => Promise<Candidate[]>
  /** Told when the download begins and of each chunk verified (readers that stream the blob meanwhile). */
  tap?: ChunkTap
}

/**
 * Downloads a large blob in chunks from several providers at once into a partial file of the
 * final size: each chunk is verified against the manifest as it arrives and written in place;
 * the set of verified chunks is saved so an interrupted download resumes. A provider whose
 * bytes do not verify, or that stalls or breaks the protocol, is dropped from this transfer and
 * penalised; its chunk goes to another provider. The whole blob is hashed in order as chunks
 * land, and the download fails with HashMismatchError unless it is the blob asked for.
 */
export async function fetchChunked (c: ChunkedComponents, partialPath: string, manifest: Manifest, manifestSha1: string, candidates: Candidate[], options: ChunkedOptions): Promise<void> {
  const { sha1, size } = manifest
  const fh = await fs.open(partialPath, await exists(partialPath) ? 'r+' : 'w+')
  let cleanup: (() => Promise<void>) | undefined
  let writer: BlockWriter | undefined
  try {
    await fh.truncate(size)
    writer = await BlockWriter.open(partialPath, fh, c.directWrites ?? true)
    const out = writer
    const done = await resumeState(c, fh, sha1, manifest, manifestSha1)
    options.tap?.begin(manifest, partialPath, done)
    const whole = new OrderedHasher(fh, manifest, done)
    const todo: number[] = []
    for (let i = 0; i < manifest.chunks.length; i++) if (!done.has(i)) todo.push(i)
    let bytes = [...done].reduce((n, i) => n + chunkRange(manifest, i).length, 0)
    const failures: string[] = []
    const dropped = new Set<string>()
    let active = 0
    options.onBytes(bytes, 0)
    const saver = new PartialSaver(c, sha1, { size, manifest: manifestSha1, done })
    cleanup = async () => { await saver.flush() }

    /**
     * One stream per provider, with the next chunk's request already queued at the responder, so
     * chunks arrive back to back and in order (the whole-blob hash then never reads the file
     * back). A chunk is verified and written while the next one is received into the other buffer.
     */
    const worker = async (cand: Candidate, session: FetchSession): Promise<void> => {
      const peer = cand.peer.toString()
      // buffers reused for every chunk: a fresh 4 MiB buffer per chunk made the garbage collector
      // the largest cost of a download (bench/fetch, --cpu-prof); aligned, for direct writes
      const buffers = Array.from({ length: CHUNK_BUFFERS_PER_PEER }, () => alignedBuffer(Math.min(manifest.chunkSize, size)))
      const checking: Array<Promise<void> | undefined> = buffers.map(() => undefined)
      /** Chunks asked of this provider and not yet verified, oldest first. */
      const mine: number[] = []
      let asked = 0
      const askMore = async (): Promise<void> => {
        while (asked < CHUNKS_IN_FLIGHT_PER_PEER && todo.length > 0 && !dropped.has(peer)) {
          const index = todo.shift() as number
          mine.push(index)
          asked++
          const { offset, length } = chunkRange(manifest, index)
          await session.ask({ sha1, offset, length }, { signal: options.signal })
        }
      }
      const check = async (index: number, buf: Buffer, length: number, offset: number, actual: string): Promise<void> => {
        if (actual !== manifest.chunks[index]) throw new HashMismatchError(`chunk ${index} from ${peer} hashes to ${actual}, expected ${manifest.chunks[index]}`)
        const data = buf.subarray(0, length)
        try {
          await out.write(data, offset)
        } catch (err) {
          // our disk, not the peer: the transfer stops (verified chunks are kept for resume)
          throw Object.assign(isDiskFull(err)
            ? new StorageFullError(`disk full while writing chunk ${index} of sha1://${sha1}`, { cause: err })
            : err as Error, { localWrite: true })
        }
        done.add(index)
        options.tap?.chunk(index, data)
        mine.splice(mine.indexOf(index), 1)
        whole.offer(index, data)
        bytes += length
        options.onBytes(bytes, active)
        saver.changed()
      }
      try {
        await askMore()
        for (let turn = 0; asked > 0; turn++) {
          options.signal?.throwIfAborted()
          const slot = turn % buffers.length
          await checking[slot]
          const buf = buffers[slot]
          const index = mine[mine.length - asked]
          const { offset, length } = chunkRange(manifest, index)
          let filled = 0
          // each piece is hashed as it lands, while it is still in the CPU's cache: cheaper in all
          // than hashing the chunk afterwards on the thread pool, whose WebCrypto copies it first
          // (bench/fetch: 0.2-0.4 CPU-s/GiB of copying and job hand-offs)
          const hash = createHash('sha1')
          for await (const piece of session.answer({ sha1, offset, length }, { signal: options.signal })) {
            buf.set(piece, filled)
            hash.update(piece)
            filled += piece.byteLength
          }
          asked--
          checking[slot] = check(index, buf, length, offset, hash.digest('hex'))
          // a failed check is seen when its buffer is next needed, or below
          checking[slot]?.catch(() => {})
          await askMore()
        }
        await Promise.all(checking)
      } catch (err) {
        // answers to requests still queued would keep coming: reset rather than close
        session.abort(err)
        await Promise.allSettled(checking)
        // chunks asked of this provider and not verified go back to the front, in order
        todo.unshift(...mine.filter((i) => !done.has(i)))
        // a failed write to our own disk is no fault of the peer's, and no other peer would fare better
        if (options.signal?.aborted === true || (err as { localWrite?: boolean }).localWrite === true) throw err
        const e = err as Error
        c.scores.fault(peer, faultWeight(err), `${e.name}: ${e.message}`)
        failures.push(`${peer}: ${e.name} (${e.message})`)
        dropped.add(peer)
      }
    }

    let pool = candidates
    while (todo.length > 0) {
      const usable = pool.filter((p) => !dropped.has(p.peer.toString()))
      if (usable.length === 0) {
        pool = await options.moreCandidates(dropped)
        if (pool.filter((p) => !dropped.has(p.peer.toString())).length === 0) {
          throw new TransferFailedError(`could not finish sha1://${sha1} (${bytes} of ${size} bytes verified and kept for resume); ` +
            `providers tried: ${failures.length > 0 ? failures.join('; ') : 'none reachable'}`)
        }
        continue
      }
      const runs = usable.map(async (cand) => {
        let session: FetchSession
        try {
          session = await c.fetch.open(cand.peer, { signal: options.signal })
        } catch (err) {
          if (options.signal?.aborted === true) throw err
          failures.push(`${cand.peer.toString()}: cannot open stream (${(err as Error).message})`)
          dropped.add(cand.peer.toString())
          return
        }
        active++
        try {
          await worker(cand, session)
        } finally {
          active--
          await session.close()
        }
      })
      const results = await Promise.allSettled(runs)
      const aborted = results.find((r) => r.status === 'rejected')
      if (aborted !== undefined) throw (aborted as PromiseRejectedResult).reason
    }
    // every chunk matched the manifest; the manifest itself came from a peer, so the blob as a
    // whole must still hash to what was asked for (no fsync here: adoptFile makes it durable
    // when the store is, and a crash before that is caught by resumeState re-hashing chunks)
    const actual = await whole.digest()
    if (actual !== sha1) {
      throw new HashMismatchError(`the chunks of sha1://${sha1} all match manifest sha1://${manifestSha1}, but together hash to ${actual}: the manifest is false`)
    }
  } finally {
    await cleanup?.()
    await writer?.close()
    await fh.close()
  }
}

/** Chunks a previous attempt verified, re-checked against the file (a crash may have lost writes). */
async function resumeState (c: ChunkedComponents, fh: fs.FileHandle, sha1: string, manifest: Manifest, manifestSha1: string): Promise<Set<number>> {
  const state = await c.partials.get(sha1)
  const done = new Set<number>()
  if (state === undefined || state.manifest !== manifestSha1 || state.size !== manifest.size) return done
  for (const i of state.done) {
    if (!Number.isSafeInteger(i) || i < 0 || i >= manifest.chunks.length) continue
    const { offset, length } = chunkRange(manifest, i)
    const buf = Buffer.allocUnsafe(length)
    const { bytesRead } = await fh.read(buf, 0, length, offset)
    if (bytesRead === length && createHash('sha1').update(buf).digest('hex') === manifest.chunks[i]) done.add(i)
  }
  return done
}

async function exists (file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false)
}

/**
 * Records which chunks are verified, for resume: at most once per PARTIAL_SAVE_INTERVAL_MS while
 * chunks land (a LevelDB write with the whole list per chunk cost ~0.3 s/GiB of the main thread),
 * and once more at the end. A crash loses at most that much progress; a resume re-hashes every
 * chunk it keeps anyway.
 */
class PartialSaver {
  private last = 0
  private saving: Promise<void> | undefined
  private dirty = false

  constructor (private readonly c: Pick<ChunkedComponents, 'partials' | 'log'>, private readonly sha1: string, private readonly state: { size: number, manifest: string, done: ReadonlySet<number> }) {}

  changed (): void {
    this.dirty = true
    if (this.saving === undefined && Date.now() - this.last >= PARTIAL_SAVE_INTERVAL_MS) this.saving = this.save()
  }

  async flush (): Promise<void> {
    await this.saving
    if (this.dirty) await this.save()
  }

  private async save (): Promise<void> {
    this.dirty = false
    this.last = Date.now()
    try {
      const { size, manifest, done } = this.state
      await this.c.partials.save(this.sha1, { size, manifest, done: [...done] } satisfies PartialState)
    } catch (err) {
      // resume state is an optimisation: a download goes on without it (and tries again)
      this.c.log.warn(`saving the resume state of sha1://${this.sha1} failed`, err)
      this.dirty = true
    } finally {
      this.saving = undefined
    }
  }
}
