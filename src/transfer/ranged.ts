import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { BlobNotFoundError, HashMismatchError, StorageFullError, isDiskFull, isError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { FetchProtocol } from '../protocols/fetch/index.js'
import type { BlobStore } from '../store/blob-store.js'
import { chunkRange, coveringChunks, type Manifest, type PartialDownloads } from '../store/manifests.js'
import { writeFully } from '../fs-util.js'
import { TransferFailedError } from './errors.js'
import type { Candidate } from './find.js'
import { faultWeight, type PeerScores } from './scores.js'

export interface RangedComponents {
  /** The blob's partial file and resume state, shared with full downloads. */
  partials: Pick<PartialDownloads, 'get' | 'save' | 'path'>
  /** A blob that became local meanwhile (a full fetch finished) is read from the store. */
  store: Pick<BlobStore, 'stat' | 'readBytes'>
  fetch: Pick<FetchProtocol, 'open'>
  scores: PeerScores
  /** Reserves space for a chunk before it is written (space management, when present). */
  reserve?: (bytes: number) => Promise<() => void>
  /**
   * Runs `task` alone for this blob: the fetcher's per-blob lock, also held by a full chunked
   * download for its whole run, so the partial file and its state have one writer at a time.
   */
  exclusive: <T>(sha1: string, task: () => Promise<T>) => Promise<T>
  /** Chunks being fetched by ranged reads now (by blob, manifest and index), shared by every read. */
  chunksInFlight: Map<string, Promise<Buffer>>
  log: Logger
}

export interface RangedRead {
  manifest: Manifest
  manifestSha1: string
  /** Providers that offer this manifest (or none), best first. */
  candidates: Candidate[]
  offset: number
  length: number
  signal?: AbortSignal
  /** Told of each chunk fetched from a peer (not of those read back from the partial file). */
  onChunkFetched?: (index: number, peer: string) => void
}

/**
 * Chunks a ranged read asks peers for ahead of the one it hands on: the next chunk is on its way
 * while this one is written out, so a range over a chunk boundary costs about one chunk's latency.
 */
const CHUNKS_AHEAD = 2

/**
 * Yields bytes [offset, offset + length) of a remote large blob, fetching only the chunks that
 * cover them. Each chunk is verified against the manifest and handed on at once; it is also
 * written into the blob's partial file at its place and recorded done in the resume state, so a
 * later full fetch fetches only the rest, under the blob's lock (a full download of the same blob
 * holds it for its whole run: it never writes beside another writer). Those writes finish before
 * the read ends, but the bytes do not wait for them. A chunk already recorded there is read back
 * (and re-hashed) instead of fetched.
 *
 * What this verifies is the chunks against the manifest. The manifest is the providers' word
 * (the one most of them offer): only the whole blob's hash, which a full fetch checks, proves it.
 */
export async function * readRemoteRange (c: RangedComponents, r: RangedRead): AsyncGenerator<Uint8Array> {
  const { manifest } = r
  const dropped = new Set<string>()
  const failures: string[] = []
  const keeping: Array<Promise<void>> = []
  const indexes = coveringChunks(manifest, r.offset, r.length)
  const pending: Array<Promise<Buffer>> = []
  let asked = 0
  for (const index of indexes) {
    r.signal?.throwIfAborted()
    while (asked < indexes.length && pending.length < CHUNKS_AHEAD) {
      const next = chunkOf(c, r, indexes[asked++], dropped, failures, keeping)
      // seen when its turn comes; until then a failure must not count as unhandled
      next.catch(() => {})
      pending.push(next)
    }
    const chunk = await (pending.shift() as Promise<Buffer>)
    // the last bytes wait for the chunks to be kept: a read that has ended (an HTTP answer whose
    // length is complete) has its chunks recorded for resume
    if (pending.length === 0 && asked === indexes.length) await Promise.all(keeping)
    const at = chunkRange(manifest, index).offset
    yield chunk.subarray(Math.max(r.offset, at) - at, Math.min(r.offset + r.length, at + chunk.byteLength) - at)
  }
  await Promise.all(keeping)
}

/**
 * Chunk `index`: from the store if the blob is complete now, else the partial file, else a peer.
 * A chunk from a peer is kept for resume in the background (its promise is pushed on `keeping`).
 */
async function chunkOf (c: RangedComponents, r: RangedRead, index: number, dropped: Set<string>, failures: string[], keeping: Array<Promise<void>>): Promise<Buffer> {
  const { sha1 } = r.manifest
  const { offset, length } = chunkRange(r.manifest, index)
  const stored = await c.store.stat(sha1)
  if (stored !== undefined) return await c.store.readBytes(sha1, { info: stored, offset, length })
  const state = await c.partials.get(sha1)
  if (state !== undefined && state.manifest === r.manifestSha1 && state.size === r.manifest.size && state.done.includes(index)) {
    const kept = await readKept(c.partials.path(sha1), offset, length)
    if (kept !== undefined && sha1Hex(kept) === r.manifest.chunks[index]) return kept
  }
  // the same chunk asked for by another read at once is fetched once
  const key = `${sha1}:${r.manifestSha1}:${index}`
  const running = c.chunksInFlight.get(key)
  if (running !== undefined) return await running
  const fetching = (async () => {
    const release = await c.reserve?.(length)
    let chunk: Buffer
    try {
      chunk = await fromPeers(c, r, index, dropped, failures)
    } catch (err) {
      release?.()
      throw err
    }
    keeping.push(keep(c, r, index, chunk).finally(() => release?.()))
    return chunk
  })()
  c.chunksInFlight.set(key, fetching)
  try {
    return await fetching
  } finally {
    c.chunksInFlight.delete(key)
  }
}

/**
 * Writes a verified chunk into the partial file and records it done, under the blob's lock; not
 * when the blob was stored meanwhile (a full fetch finished). A failure is logged: the bytes asked
 * for were verified all the same, and keeping them is what makes a later fetch shorter.
 */
async function keep (c: RangedComponents, r: RangedRead, index: number, chunk: Buffer): Promise<void> {
  const { sha1, size } = r.manifest
  const { offset } = chunkRange(r.manifest, index)
  await c.exclusive(sha1, async () => {
    if (await c.store.stat(sha1) !== undefined) return
    const state = await c.partials.get(sha1)
    const same = state !== undefined && state.manifest === r.manifestSha1 && state.size === size
    await writeChunk(c.partials.path(sha1), size, offset, chunk).catch((err: unknown) => {
      // our disk, not the peer's doing
      throw isDiskFull(err) ? new StorageFullError(`disk full while writing chunk ${index} of sha1://${sha1}`, { cause: err }) : err
    })
    const done = same ? state.done.filter((i) => i !== index) : []
    done.push(index)
    await c.partials.save(sha1, { size, manifest: r.manifestSha1, done })
  }).catch((err: unknown) => {
    c.log.warn(`keeping chunk ${index} of sha1://${sha1} for resume failed`, err)
  })
}

/** The chunk from the first provider whose bytes match the manifest; the others are penalised. */
async function fromPeers (c: RangedComponents, r: RangedRead, index: number, dropped: Set<string>, failures: string[]): Promise<Buffer> {
  const { sha1 } = r.manifest
  const { offset, length } = chunkRange(r.manifest, index)
  for (const cand of r.candidates) {
    const peer = cand.peer.toString()
    if (dropped.has(peer)) continue
    let session
    try {
      session = await c.fetch.open(cand.peer, { signal: r.signal })
      const buf = Buffer.allocUnsafe(length)
      let filled = 0
      const hash = createHash('sha1')
      for await (const piece of session.get({ sha1, offset, length }, { signal: r.signal })) {
        if (filled + piece.byteLength > length) throw new HashMismatchError(`chunk ${index} from ${peer} is longer than ${length} bytes`)
        buf.set(piece, filled)
        hash.update(piece)
        filled += piece.byteLength
      }
      const actual = hash.digest('hex')
      if (filled !== length || actual !== r.manifest.chunks[index]) {
        throw new HashMismatchError(`chunk ${index} of sha1://${sha1} from ${peer} hashes to ${actual}, expected ${r.manifest.chunks[index]}`)
      }
      await session.close()
      r.onChunkFetched?.(index, peer)
      return buf
    } catch (err) {
      session?.abort(err)
      if (r.signal?.aborted === true) throw err
      const e = err as Error
      // a provider that no longer holds the blob is not at fault
      if (!isError(err, BlobNotFoundError)) c.scores.fault(peer, faultWeight(err), `${e.name}: ${e.message}`)
      failures.push(`${peer}: ${e.name} (${e.message})`)
      dropped.add(peer)
    }
  }
  throw new TransferFailedError(`no provider delivered chunk ${index} of sha1://${sha1}: ${failures.length > 0 ? failures.join('; ') : 'none left'}`)
}

/** A chunk recorded done, read back from the partial file; undefined when the file is short or gone. */
async function readKept (file: string, offset: number, length: number): Promise<Buffer | undefined> {
  let fh
  try {
    fh = await fs.open(file, 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got)
      if (bytesRead === 0) return undefined
      got += bytesRead
    }
    return buf
  } finally {
    await fh.close()
  }
}

/** Writes a chunk at its place in the partial file, made at the blob's full size (sparse) first. */
async function writeChunk (file: string, size: number, offset: number, chunk: Uint8Array): Promise<void> {
  const fh = await fs.open(file, await fs.access(file).then(() => 'r+', () => 'w+'))
  try {
    if ((await fh.stat()).size !== size) await fh.truncate(size)
    await writeFully(fh, chunk, offset)
  } finally {
    await fh.close()
  }
}

function sha1Hex (data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex')
}
