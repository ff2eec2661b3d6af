/**
 * Ref store bench, through the library: set and get rates on a store already holding 100,000
 * realistic refs, with bounded concurrency, next to this machine's sha1 speed for context.
 *
 *   node dist/bench/refs.js [--keys 100000] [--seconds 3] [--concurrency 64] [--dir /tmp]
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { createTrove } from '../src/index.js'
import { benchArgs } from './lib/args.js'
import { runLoad, type LoadResult } from './lib/load.js'
import { machineInfo, note, printResult, round } from './lib/output.js'
import { sha1CeilingMiBPerSec } from './lib/sha1-ceiling.js'
import { benchTempDir } from './lib/tmp.js'

/** Refs in the store before anything is timed: a lab's worth, enough that the LSM has levels. */
const DEFAULT_KEYS = 100_000
/** Operations in flight: a busy node serving many scripts and API clients at once. */
const DEFAULT_CONCURRENCY = 64
/** Per measured phase (set: half updates, half new keys; get). */
const DEFAULT_SECONDS = 3
/** Distinct blobs the refs point at: fewer than refs, so blobs are shared as in a real lab. */
const BLOB_POOL = 20_000
/** Mice per lab in the key layout `lab/mouseN/run-M`. */
const MICE = 1000
const GOAL_SETS_PER_SEC = 20_000
const GOAL_GETS_PER_SEC = 50_000

const NAMES = ['spikes.bin', 'params.json', 'raw.dat']

/** A deterministic PRNG, so runs are comparable (mulberry32). */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function keyOf (i: number, lab = 'lab'): string {
  return `${lab}/mouse${i % MICE}/run-${Math.floor(i / MICE)}`
}

async function main (): Promise<void> {
  const args = benchArgs()
  const keys = args.keys ?? DEFAULT_KEYS
  const concurrency = args.concurrency ?? DEFAULT_CONCURRENCY
  const durationMs = (args.seconds ?? DEFAULT_SECONDS) * 1000
  const rand = rng(42)
  const pool = Array.from({ length: BLOB_POOL }, () => randomBytes(20).toString('hex'))
  const objFor = (): Record<string, string> => {
    const obj: Record<string, string> = {}
    const n = 1 + Math.floor(rand() * 3)
    for (let j = 0; j < n; j++) obj[NAMES[j].split('.')[0]] = `sha1://${pool[Math.floor(rand() * pool.length)]}/${NAMES[j]}`
    return obj
  }
  const metaFor = (i: number): Record<string, unknown> => ({ priority: i % 3, project: 'bench' })

  const tmp = await benchTempDir('trove-bench-refs-', args.dir)
  const trove = await createTrove({ dataDir: path.join(tmp.dir, 'data'), create: true, command: 'bench refs' })
  try {
    note(`populating ${keys} refs`)
    const populate = await runLoad(async (i) => trove.setRef(keyOf(i), objFor(), metaFor(i)), { concurrency, count: keys })

    // measured on both sides of the timed phases: a drop means something else took the CPU meanwhile
    const sha1Before = sha1CeilingMiBPerSec()
    note('measuring sets of existing keys (new versions)')
    const updates = await runLoad(async () => {
      const i = Math.floor(rand() * keys)
      return trove.setRef(keyOf(i), objFor(), metaFor(i))
    }, { concurrency, durationMs: durationMs / 2 })
    note('measuring sets of new keys')
    const creates = await runLoad(async (i) => trove.setRef(keyOf(i, 'newlab'), objFor(), metaFor(i)), { concurrency, durationMs: durationMs / 2 })
    const sets = combine(updates, creates)

    note('measuring gets of random existing keys')
    const gets = await runLoad(async () => trove.getRef(keyOf(Math.floor(rand() * keys))), { concurrency, durationMs })

    const sha1After = sha1CeilingMiBPerSec()
    printResult({
      bench: 'refs',
      refsBefore: keys,
      concurrency,
      populate: rate(populate),
      sets: { ...rate(sets), updates: rate(updates), newKeys: rate(creates) },
      gets: rate(gets),
      setsPerSec: Math.round(sets.perSec),
      getsPerSec: Math.round(gets.perSec),
      ceiling: { sha1MiBPerSec: round(sha1Before, 1), sha1MiBPerSecAfter: round(sha1After, 1) },
      goals: { setsPerSec: `>=${GOAL_SETS_PER_SEC}`, getsPerSec: `>=${GOAL_GETS_PER_SEC}` },
      met: { setsPerSec: sets.perSec >= GOAL_SETS_PER_SEC, getsPerSec: gets.perSec >= GOAL_GETS_PER_SEC },
      machine: machineInfo()
    })
  } finally {
    await trove.close()
    await tmp.cleanup()
  }
}

function combine (a: LoadResult, b: LoadResult): LoadResult {
  const ops = a.ops + b.ops
  const seconds = a.seconds + b.seconds
  const cpuMicrosPerOp = (a.cpuMicrosPerOp * a.ops + b.cpuMicrosPerOp * b.ops) / Math.max(ops, 1)
  return { ops, seconds, perSec: ops / seconds, cpuMicrosPerOp }
}

function rate (r: LoadResult): { ops: number, seconds: number, perSec: number, cpuMicrosPerOp: number } {
  return { ops: r.ops, seconds: round(r.seconds, 3), perSec: Math.round(r.perSec), cpuMicrosPerOp: round(r.cpuMicrosPerOp, 1) }
}

await main()
