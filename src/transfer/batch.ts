import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../logger.js'
import type { TroveLibp2p } from '../net/libp2p.js'
import type { FetchProtocol, RangeRequest } from '../protocols/fetch/index.js'
import type { HaveProtocol } from '../protocols/have/index.js'
import { MAX_HAVE_HASHES } from '../protocols/have/constants.js'
import type { BlobStore } from '../store/blob-store.js'
import { SMALL_BLOB_MAX, SMALL_BLOBS_IN_FLIGHT } from './constants.js'
import type { ProviderTable } from './providers.js'
import { faultWeight, type PeerScores } from './scores.js'

/**
 * Stores of small fetched blobs running at once: fsyncs overlap instead of queueing one by one,
 * and the store's small-file worker and group commit get batches of this order. As many as the
 * requests in flight (SMALL_BLOBS_IN_FLIGHT), so the reader is not held up while a batch
 * commits; BATCH_STORE_BYTES still bounds the memory.
 */
export const BATCH_STORE_CONCURRENCY = 256
/** Bytes of fetched blobs held in memory while their stores run (blobs are up to SMALL_BLOB_MAX). */
export const BATCH_STORE_BYTES = 16 * 1024 * 1024

export interface BatchComponents {
  libp2p: Pick<TroveLibp2p, 'getPeers'>
  store: Pick<BlobStore, 'putBytes'>
  have: Pick<HaveProtocol, 'query'>
  fetch: Pick<FetchProtocol, 'open'>
  scores: PeerScores
  /** Learns who holds what from the have answers, as a single fetch's search does. */
  providers?: ProviderTable
  log: Logger
}

export interface BatchProgress {
  done: number
  total: number
  bytes: number
}

/**
 * Fetches many small blobs from connected peers with few round trips: one have request per 4096
 * hashes per peer, then one pipelined fetch stream per provider carrying all of its share. Each
 * blob is re-hashed on arrival. Returns the hashes this path could not get (too large, held by
 * no connected peer, or failed), for the caller to fetch one by one.
 */
export async function fetchSmallBatch (c: BatchComponents, sha1s: string[], options: { signal?: AbortSignal, onProgress?: (p: BatchProgress) => void } = {}): Promise<string[]> {
  const peers = c.libp2p.getPeers().filter((p) => !c.scores.isBanned(p.toString()))
  const holders = new Map<string, PeerId[]>()
  const sizes = new Map<string, number>()
  const leftover = new Set(sha1s)
  for (let i = 0; i < sha1s.length; i += MAX_HAVE_HASHES) {
    const batch = sha1s.slice(i, i + MAX_HAVE_HASHES)
    await Promise.allSettled(peers.map(async (peer) => {
      const answers = await c.have.query(peer, batch, { signal: options.signal })
      for (const a of answers) {
        if (!a.have) continue
        c.providers?.add(a.sha1, peer.toString(), a.size)
        if ((a.size ?? 0) > SMALL_BLOB_MAX) continue
        sizes.set(a.sha1, a.size ?? 0)
        const list = holders.get(a.sha1) ?? []
        list.push(peer)
        holders.set(a.sha1, list)
      }
    }))
  }
  // spread blobs over their holders so each provider carries a share
  const shares = new Map<string, { peer: PeerId, reqs: RangeRequest[] }>()
  let turn = 0
  for (const [sha1, list] of holders) {
    const peer = list[turn++ % list.length]
    const key = peer.toString()
    const share = shares.get(key) ?? { peer, reqs: [] }
    share.reqs.push({ sha1 })
    shares.set(key, share)
  }
  let done = 0
  let bytes = 0
  const total = holders.size
  // stores running and the bytes they hold; a store that ends wakes the providers' readers
  // waiting for room (racing every running store's promise instead cost a reaction each per blob)
  let running = 0
  let storing = 0
  let waiting: Array<() => void> = []
  const wake = (): void => {
    const list = waiting
    waiting = []
    for (const w of list) w()
  }
  const storeOne = async (sha1: string, data: Uint8Array, peer: string): Promise<void> => {
    try {
      await c.store.putBytes(data, { expectedSha1: sha1, signal: options.signal })
      leftover.delete(sha1)
      done++
      bytes += data.byteLength
      options.onProgress?.({ done, total, bytes })
    } catch (err) {
      // a failed store is our side's doing; only bytes that do not verify count against the peer.
      // The blob is left over for the single path, which reports its own error
      c.scores.fault(peer, faultWeight(err, 0), `bad bytes for ${sha1}`)
      c.log.debug(`storing sha1://${sha1} from ${peer} failed`, err)
    }
  }
  await Promise.allSettled([...shares.values()].map(async ({ peer, reqs }) => {
    const peerName = peer.toString()
    const session = await c.fetch.open(peer, { signal: options.signal })
    let parts: Uint8Array[] = []
    try {
      await session.many(reqs, SMALL_BLOBS_IN_FLIGHT, {
        sinkFor: () => {
          parts = []
          // the reader hands out received buffers it never reuses: keep them, concat copies once
          return (chunk) => { parts.push(chunk) }
        },
        done: async (req) => {
          // most small blobs arrive in one piece: stored as it is, not copied first
          const data = parts.length === 1 ? parts[0] : Buffer.concat(parts)
          running++
          storing += data.byteLength
          void storeOne(req.sha1, data, peerName).finally(() => {
            running--
            storing -= data.byteLength
            wake()
          })
          // bound the blobs held in memory while their stores run
          while (running >= BATCH_STORE_CONCURRENCY || storing >= BATCH_STORE_BYTES) {
            await new Promise<void>((resolve) => { waiting.push(resolve) })
          }
        },
        onMissing: () => {}
      }, { signal: options.signal })
      await session.close()
    } catch (err) {
      // what this peer did not deliver is left over for the single path, which reports its own error
      session.abort(err)
      c.scores.fault(peerName, faultWeight(err, 0), (err as Error).message)
      c.log.debug(`the batch from ${peerName} failed`, err)
    }
  }))
  while (running > 0) await new Promise<void>((resolve) => { waiting.push(resolve) })
  return [...leftover]
}
