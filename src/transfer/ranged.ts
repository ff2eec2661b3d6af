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
 * Yields bytes [offset, offset + length) of a remote large blob, fetching only the chunks that
 * cover them. Each chunk is verified against the manifest, written into the blob's partial file
 * at its place and recorded done in the resume state, so a later full fetch fetches only the rest;
 * a chunk already recorded there is read back (and re-hashed) instead of fetched. Chunks are
 * handled one at a time under the blob's lock: a full download of the same blob, or another
 * ranged read, waits for the chunk in hand, never writes beside it.
 *
 * What this verifies is the chunks against the manifest. The manifest is the providers' word
 * (the one most of them offer): only the whole blob's hash, which a full fetch checks, proves it.
 */
export async function * readRemoteRange (c: RangedComponents, r: RangedRead): AsyncGenerator<Uint8Array> {
  const { manifest } = r
  const dropped = new Set<string>()
  const failures: string[] = []
  for (const index of coveringChunks(manifest, r.offset, r.length)) {
    r.signal?.throwIfAborted()
    const at = chunkRange(manifest, index).offset
    const chunk = await c.exclusive(manifest.sha1, async () => chunkOf(c, r, index, dropped, failures))
    yield chunk.subarray(Math.max(r.offset, at) - at, Math.min(r.offset + r.length, at + chunk.byteLength) - at)
  }
}

/** Chunk `index`: from the store if the blob is complete now, else the partial file, else a peer. */
async function chunkOf (c: RangedComponents, r: RangedRead, index: number, dropped: Set<string>, failures: string[]): Promise<Buffer> {
  const { sha1, size } = r.manifest
  const { offset, length } = chunkRange(r.manifest, index)
  const stored = await c.store.stat(sha1)
  if (stored !== undefined) return await c.store.readBytes(sha1, { info: stored, offset, length })
  const state = await c.partials.get(sha1)
  const same = state !== undefined && state.manifest === r.manifestSha1 && state.size === size
  const file = c.partials.path(sha1)
  if (same && state.done.includes(index)) {
    const kept = await readKept(file, offset, length)
    if (kept !== undefined && sha1Hex(kept) === r.manifest.chunks[index]) return kept
  }
  const release = await c.reserve?.(length)
  try {
    const chunk = await fromPeers(c, r, index, dropped, failures)
    await writeChunk(file, size, offset, chunk).catch((err: unknown) => {
      // our disk, not the peer's doing
      throw isDiskFull(err) ? new StorageFullError(`disk full while writing chunk ${index} of sha1://${sha1}`, { cause: err }) : err
    })
    const done = same ? state.done.filter((i) => i !== index) : []
    done.push(index)
    await c.partials.save(sha1, { size, manifest: r.manifestSha1, done }).catch((err: unknown) => {
      // resume state is an optimisation: the bytes asked for were verified all the same
      c.log.warn(`saving the resume state of sha1://${sha1} failed`, err)
    })
    return chunk
  } finally {
    release?.()
  }
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
