/**
 * Small-blob bench: 10,000 blobs of 4 KiB held by one Trove process, fetched by a second one on
 * loopback. Goal: >= 5,000 blobs/s. Uses `trove.fetchMany` (pipelined batches) when the Trove
 * class has it, and measures `ensureLocal` with bounded concurrency beside it. The ceiling in the
 * same run is the store itself: how fast the provider process put the same blobs locally.
 *
 *   node dist/bench/small.js [--count 10000] [--blob-size 4KiB] [--concurrency 16,64] [--methods fetchMany,ensureLocal]
 *                            [--durable] [--dir DIR] [--profile DIR]
 */
import { netBenchArgs } from './lib/net-args.js'
import { Children, ensureBuilt } from './lib/net-cluster.js'
import type { SmallReport } from './lib/net-trove-child.js'
import { note, printResult, round } from './lib/output.js'

const DEFAULT_COUNT = 10_000
const DEFAULT_BLOB_BYTES = 4096
/** ensureLocal callers at once: one stream round trip each, so concurrency hides latency. */
const DEFAULT_CONCURRENCY = [16, 64]
const GOAL_BLOBS_PER_SEC = 5_000

async function main (): Promise<void> {
  const args = netBenchArgs()
  const count = args.count ?? DEFAULT_COUNT
  const blobSize = args.blobSize ?? DEFAULT_BLOB_BYTES
  const concurrency = args.concurrency ?? DEFAULT_CONCURRENCY
  await ensureBuilt()
  const kids = new Children(args.profile)
  const result: Record<string, unknown> = { bench: 'small', count, blobBytes: blobSize, durable: args.durable }
  try {
    const provider = await kids.trove('provider', { durable: args.durable, base: args.dir })
    const methods: Array<{ method: 'fetchMany' | 'ensureLocal', concurrency: number }> = []
    const probe = await kids.trove('fetcher', { durable: args.durable, base: args.dir })
    const hasFetchMany = await probe.child.call<boolean>('hasFetchMany')
    await kids.stop(probe.child)
    result.fetchMany = hasFetchMany ? 'present' : 'absent: Trove has no fetchMany; only ensureLocal is measured'
    const wanted = (m: string): boolean => args.methods === undefined || args.methods.includes(m)
    if (hasFetchMany && wanted('fetchMany')) methods.push({ method: 'fetchMany', concurrency: 1 })
    if (wanted('ensureLocal')) for (const c of concurrency) methods.push({ method: 'ensureLocal', concurrency: c })

    const runs: Record<string, unknown> = {}
    for (const [i, m] of methods.entries()) {
      // fresh content per method so no run finds blobs a previous one left anywhere
      note(`provider stores ${count} blobs of ${blobSize} bytes`)
      const added = await provider.child.call<{ sha1s: string[], seconds: number }>('addSmall', { seed: 100 + i, count, size: blobSize })
      const fetcher = await kids.trove('fetcher', { durable: args.durable, base: args.dir })
      await fetcher.child.call('dial', { addr: provider.addr })
      const name = m.method === 'ensureLocal' ? `ensureLocal x${m.concurrency}` : m.method
      note(`fetching with ${name}`)
      let r: SmallReport
      let cpu = { receiver: 0, sender: 0 }
      let threads: Record<string, ThreadCpu> = {}
      try {
        const [r0, s0] = await Promise.all([fetcher.child.call<number>('cpu'), provider.child.call<number>('cpu')])
        const [rt0, st0] = await Promise.all([fetcher.child.call<ThreadCpu>('threadCpu'), provider.child.call<ThreadCpu>('threadCpu')])
        r = await fetcher.child.call<SmallReport>('fetchSmall', { sha1s: added.sha1s, concurrency: m.concurrency, method: m.method })
        const [r1, s1] = await Promise.all([fetcher.child.call<number>('cpu'), provider.child.call<number>('cpu')])
        const [rt1, st1] = await Promise.all([fetcher.child.call<ThreadCpu>('threadCpu'), provider.child.call<ThreadCpu>('threadCpu')])
        cpu = { receiver: r1 - r0, sender: s1 - s0 }
        threads = { receiver: perBlobByThread(rt0, rt1, count), sender: perBlobByThread(st0, st1, count) }
        note(`fetched ${r.count} blobs in ${round(r.seconds, 3)} s`)
      } catch (err) {
        // a failure is a result too: report it and go on with the other methods
        runs[name] = { error: (err as Error).message.split('\n')[0] }
        continue
      } finally {
        await kids.stop(fetcher.child)
      }
      const perSec = r.count / r.seconds
      runs[r.method] = {
        blobsPerSec: round(perSec, 0),
        seconds: round(r.seconds, 3),
        mibPerSec: round(r.count * blobSize / (1024 * 1024) / r.seconds),
        peakRssMB: r.peakRssMB !== undefined ? round(r.peakRssMB, 1) : undefined,
        goalBlobsPerSec: GOAL_BLOBS_PER_SEC,
        meetsGoal: perSec >= GOAL_BLOBS_PER_SEC,
        // the provider's own local puts of the same blobs: the store's ceiling on this machine
        localPutBlobsPerSec: round(count / added.seconds, 0),
        ratioOfLocalPut: round(perSec / (count / added.seconds), 3),
        // CPU milliseconds per blob of each process (user + system, all threads): steadier than
        // the rate on a machine with other load
        cpuMsPerBlob: { receiver: round(cpu.receiver * 1000 / count, 3), sender: round(cpu.sender * 1000 / count, 3) },
        // the same per thread name, user and system (kernel) time apart: where each side's CPU goes
        // (10 ms resolution: totals, not single threads' crumbs)
        cpuMsPerBlobByThread: threads
      }
    }
    result.runs = runs
  } finally {
    await kids.stopAll()
  }
  printResult(result)
}

type ThreadCpu = Record<string, { user: number, sys: number }>

/** Per-thread CPU between two readings, in ms per blob, threads that used almost none left out. */
function perBlobByThread (before: ThreadCpu, after: ThreadCpu, count: number): ThreadCpu {
  const out: ThreadCpu = {}
  for (const [name, a] of Object.entries(after)) {
    const b = before[name] ?? { user: 0, sys: 0 }
    const user = (a.user - b.user) * 1000 / count
    const sys = (a.sys - b.sys) * 1000 / count
    if (user + sys < 0.002) continue
    out[name] = { user: round(user, 3), sys: round(sys, 3) }
  }
  return out
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
