/**
 * A Trove node in its own process for the network benches (see bench/fetch.ts, bench/small.ts),
 * driven over IPC: it creates a Trove on a temp dir, starts it on loopback with mDNS off and
 * reports its multiaddr; then adds generated content, dials peers and fetches on command.
 */
import fs from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { createTrove, type Trove } from '../../src/node.js'
import { content, smallBlob, smallBlock } from './net-content.js'
import { startMemTrace } from './mem-trace.js'
import { peakRssMB, resetPeakRss, serveIpc } from './net-ipc.js'
import { benchTempDir } from './tmp.js'
import { secondsSince } from './timing.js'
import type { Encryption } from '../../src/net/constants.js'

/** Same as BATCH_STORE_CONCURRENCY in src/transfer/batch.ts. */
const LOCAL_PUT_CONCURRENCY = 256

let trove: Trove | undefined
let tmp: { dir: string, cleanup: () => Promise<void> } | undefined

function node (): Trove {
  if (trove === undefined) throw new Error('init first')
  return trove
}

async function start (streamWindow?: number, encryption?: Encryption[]): Promise<{ peerId: string, addr: string }> {
  const t = node()
  await t.start({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, streamWindow, encryption })
  const addr = t.multiaddrs().find((a) => a.includes('127.0.0.1')) ?? t.multiaddrs()[0]
  return { peerId: t.peerId as string, addr }
}

export interface FetchReport {
  seconds: number
  bytes: number
  /** From the call to the first byte reported by the fetcher's progress. */
  firstByteMs?: number
  /** Peak RSS of this process during the fetch (VmHWM reset just before it). */
  peakRssMB?: number
  peakRssCoversFetchOnly: boolean
  /** RSS of the started, idle node just before the fetch: the part of the peak the fetch did not cause. */
  rssBeforeMB: number
}

export interface SmallReport {
  seconds: number
  count: number
  method: string
  peakRssMB?: number
}

serveIpc({
  init: async (args: { durable?: boolean, base?: string }) => {
    tmp = await benchTempDir('trove-bench-node-', args.base)
    trove = await createTrove({ dataDir: tmp.dir, create: true, durable: args.durable ?? false })
    return { dir: tmp.dir, pid: process.pid }
  },
  start: async (args: { streamWindow?: number, encryption?: Encryption[] }) => start(args.streamWindow, args.encryption),
  /** Restarts the network with another stream window (same key and store; new port). */
  restart: async (args: { streamWindow?: number, encryption?: Encryption[] }) => {
    await node().stop()
    return start(args.streamWindow, args.encryption)
  },
  addContent: async (args: { seed: number, size: number }) => {
    const begin = process.hrtime.bigint()
    const r = await node().add(content(args.seed, args.size))
    return { sha1: r.sha1, size: r.size, seconds: secondsSince(begin) }
  },
  addSmall: async (args: { seed: number, count: number, size: number }) => {
    const begin = process.hrtime.bigint()
    const block = smallBlock(args.seed, args.size)
    const sha1s: string[] = new Array(args.count)
    // as many puts at once as the fetcher's batch path runs, so this is a fair ceiling for it
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < args.count) {
        const i = next++
        sha1s[i] = (await node().store.putBytes(smallBlob(args.seed, i, args.size, block))).sha1
      }
    }
    await Promise.all(Array.from({ length: LOCAL_PUT_CONCURRENCY }, worker))
    const seconds = secondsSince(begin)
    // space management classifies new blobs in the background; finish that before a fetch is
    // measured, so the provider's CPU then is serving, as for blobs it has held for a while
    await node().space.drain()
    return { sha1s, seconds }
  },
  dial: async (args: { addr: string }) => {
    const libp2p = node().network?.libp2p
    if (libp2p === undefined) throw new Error('start first')
    await libp2p.dial(multiaddr(args.addr))
    return { peers: libp2p.getPeers().length }
  },
  fetch: async (args: { sha1: string }): Promise<FetchReport> => {
    const rssBeforeMB = process.memoryUsage.rss() / (1024 * 1024)
    const reset = resetPeakRss()
    const begin = process.hrtime.bigint()
    let firstByteMs: number | undefined
    const trace = startMemTrace(`fetch ${args.sha1.slice(0, 8)}`)
    const info = await node().ensureLocal(args.sha1, {
      onProgress: (p) => { if (firstByteMs === undefined && p.bytes > 0) firstByteMs = secondsSince(begin) * 1000 }
    }).finally(() => trace.stop())
    const seconds = secondsSince(begin)
    return { seconds, bytes: info.size, firstByteMs, peakRssMB: peakRssMB(), peakRssCoversFetchOnly: reset, rssBeforeMB }
  },
  fetchSmall: async (args: { sha1s: string[], concurrency: number, method: 'fetchMany' | 'ensureLocal' }): Promise<SmallReport> => {
    const t = node() as Trove & { fetchMany?: (sha1s: string[], options?: unknown) => Promise<unknown> }
    resetPeakRss()
    const begin = process.hrtime.bigint()
    if (args.method === 'fetchMany') {
      if (typeof t.fetchMany !== 'function') throw new Error('Trove.fetchMany does not exist')
      await t.fetchMany(args.sha1s)
    } else {
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < args.sha1s.length) await t.ensureLocal(args.sha1s[next++])
      }
      await Promise.all(Array.from({ length: args.concurrency }, worker))
    }
    const seconds = secondsSince(begin)
    // every blob must really be here: a fast wrong answer is not a result
    let missing = 0
    // one look-up per thousand: the check is not the fetch, and the CPU measured around the call includes it
    for (let i = 0; i < args.sha1s.length; i += 1024) {
      for (const info of await t.store.statMany(args.sha1s.slice(i, i + 1024))) if (info === undefined) missing++
    }
    if (missing > 0) throw new Error(`${missing} of ${args.sha1s.length} blobs missing after the fetch`)
    return { seconds, count: args.sha1s.length, method: args.method === 'fetchMany' ? 'fetchMany' : `ensureLocal x${args.concurrency}`, peakRssMB: peakRssMB() }
  },
  /** CPU seconds (user, system) per thread name so far, from /proc (Linux); {} elsewhere. */
  threadCpu: () => threadCpu(),
  hasFetchMany: () => typeof (node() as unknown as { fetchMany?: unknown }).fetchMany === 'function',
  peakRss: () => peakRssMB()
}, async () => {
  await trove?.close().catch(() => {})
  trove = undefined
  await tmp?.cleanup()
  tmp = undefined
})

/**
 * User and system CPU seconds of each of this process's threads so far, summed by thread name
 * (main and worker threads, libuv's pool, LevelDB's, V8's): says where a side's CPU per blob
 * goes, and how much of it is the kernel's.
 */
function threadCpu (): Record<string, { user: number, sys: number }> {
  const out: Record<string, { user: number, sys: number }> = {}
  const tick = 100 // USER_HZ on Linux
  let tasks: string[]
  try { tasks = fs.readdirSync('/proc/self/task') } catch { return out }
  for (const t of tasks) {
    let stat: string
    try { stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8') } catch { continue }
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const name = stat.slice(open + 1, close)
    const fields = stat.slice(close + 2).split(' ')
    // fields from the state (field 3) on: utime is field 14, stime 15
    const user = Number(fields[11]) / tick
    const sys = Number(fields[12]) / tick
    const e = out[name] ?? { user: 0, sys: 0 }
    e.user += user
    e.sys += sys
    out[name] = e
  }
  return out
}
