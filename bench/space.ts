/**
 * Space management at scale. For each store size (default 100k and 1M blobs, a tenth as many
 * refs) it measures: rebuilding the space index from scratch; planning an eviction of 10% of
 * the bytes (the planner alone, and the whole `gc --dry-run`); the cost of runs evicting 1k,
 * 10k (and 100k) blobs, to show it follows what is evicted, not the store's size; and the rate
 * of ref sets while idle and while a run evicting 10% is in progress.
 *
 * How the store is made, to make 1M blobs in reasonable time: blob index entries, refs, their
 * versions and edges, and pins are written straight into LevelDB in large batches (the same
 * records the stores write, flagged `holdsUnchanged` so space management passes them by), then the data directory
 * is reopened, which rebuilds the space index in one ordered pass (timed). Tiny real files
 * exist only for blobs early in the eviction order (those the runs delete); the rest are index
 * entries only. Nothing is fsynced (durable: false).
 *
 * Usage: node dist/bench/space.js [--sizes 100000,1000000] [--dir /tmp] [--parts plan,runs,rate]
 * (`--parts` leaves out the dry run or the runs while working on one measurement; published
 * figures come from the default, all of them.)
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { BatchOp } from '../src/db.js'
import { META_USAGE, SPACE_VERSION, edgeKey, versionKey } from '../src/db/keys.js'
import { createTrove, type Trove } from '../src/node.js'
import { note, printResult, round } from './lib/output.js'
import { secondsSince } from './lib/timing.js'
import { benchTempDir } from './lib/tmp.js'

/** Claimed size of each blob: small, so 1M blobs fit anywhere; eviction cost does not depend on it. */
const BLOB_SIZE = 100
/** One blob in this many is unreferenced, one in PIN_EVERY pinned; the rest are held by refs. */
const UNREF_EVERY = 20
const PIN_EVERY = 100
/** Ref priorities cycle through 0..PRIORITIES-1. */
const PRIORITIES = 5
/** Operations per LevelDB batch while building the store. */
const BUILD_BATCH = 20_000
/** Files created at once while building. */
const FILE_CONCURRENCY = 64
/** Ref sets kept in flight by the rate test, and how long the idle measurement lasts. */
const RATE_CONCURRENCY = 16
const RATE_IDLE_MS = 2000

function sha1Of (text: string): string {
  return createHash('sha1').update(text).digest('hex')
}

interface Built {
  trove: Trove
  dataDir: string
  held: string[]
  buildSeconds: number
  rebuildSeconds: number
  files: number
}

async function build (root: string, n: number): Promise<Built> {
  const dataDir = path.join(root, `store-${n}`)
  const open = async (): Promise<Trove> => createTrove({ dataDir, create: true, durable: false, space: { gracePeriodMs: 0, maxSize: '1000TB', hardLimit: '1000TB' } })
  const t0 = process.hrtime.bigint()
  let trove = await open()
  const db = trove.db
  const refCount = Math.max(1, Math.floor(n / 10))
  const members: string[][] = Array.from({ length: refCount }, () => [])
  const base = Date.now() - n * 1000
  const held: string[] = []
  const toFile: string[] = []
  let ops: BatchOp[] = []
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return
    await db.batch(ops)
    ops = []
  }
  for (let i = 0; i < n; i++) {
    const sha1 = sha1Of(`bench-${n}-${i}`)
    ops.push({ type: 'put', sublevel: db.blobs, key: sha1, value: { size: BLOB_SIZE, addedAt: base + i * 1000 }, holdsUnchanged: true })
    if (i % UNREF_EVERY === 0) {
      toFile.push(sha1)
    } else if (i % PIN_EVERY === 1) {
      ops.push({ type: 'put', sublevel: db.pins, key: sha1, value: { pinnedAt: new Date().toISOString() }, holdsUnchanged: true })
    } else {
      const r = i % refCount
      members[r].push(sha1)
      const priority = r % PRIORITIES
      ops.push({ type: 'put', sublevel: db.edges, key: edgeKey(sha1, `bench/r${r}`), value: { priority, pin: false }, holdsUnchanged: true })
      // the runs delete unreferenced blobs, then the oldest priority-0 ones: give those real files
      if (priority === 0 && i < n / 2) toFile.push(sha1)
      else if (priority > 0 && held.length < 10_000) held.push(sha1)
    }
    if (ops.length >= BUILD_BATCH) await flush()
  }
  const setAt = new Date().toISOString()
  for (let r = 0; r < refCount; r++) {
    const key = `bench/r${r}`
    const obj = { files: members[r].map((s) => `sha1://${s}`) }
    const meta = { priority: r % PRIORITIES }
    ops.push({ type: 'put', sublevel: db.refs, key, value: { version: 1, obj, meta, setAt, hashes: members[r] }, holdsUnchanged: true })
    ops.push({ type: 'put', sublevel: db.versions, key: versionKey(key, 1), value: { version: 1, obj, meta, setAt }, holdsUnchanged: true })
    if (ops.length >= BUILD_BATCH) await flush()
  }
  ops.push({ type: 'put', sublevel: db.meta, key: META_USAGE, value: { bytes: n * BLOB_SIZE, blobs: n }, holdsUnchanged: true })
  // the space index is rebuilt from these records at the next open
  ops.push({ type: 'del', sublevel: db.spaceMeta, key: SPACE_VERSION, holdsUnchanged: true })
  await flush()
  const payload = Buffer.alloc(BLOB_SIZE, 0x61)
  for (let i = 0; i < toFile.length; i += FILE_CONCURRENCY) {
    await Promise.all(toFile.slice(i, i + FILE_CONCURRENCY).map(async (sha1) => {
      const p = trove.store.pathOf(sha1)
      await fs.mkdir(path.dirname(p), { recursive: true })
      await fs.writeFile(p, payload)
    }))
  }
  await trove.close()
  const buildSeconds = secondsSince(t0)
  const t1 = process.hrtime.bigint()
  trove = await open()
  const rebuildSeconds = secondsSince(t1)
  return { trove, dataDir, held, buildSeconds, rebuildSeconds, files: toFile.length }
}

async function planSeconds (trove: Trove, bytes: number): Promise<{ seconds: number, blobs: number }> {
  const t0 = process.hrtime.bigint()
  let freed = 0
  let blobs = 0
  for await (const c of trove.space.plan()) {
    if (freed >= bytes) break
    freed += c.size
    blobs++
  }
  return { seconds: secondsSince(t0), blobs }
}

async function refSetRate (trove: Trove, held: string[], untilDone: Promise<unknown> | undefined, label: string): Promise<{ sets: number, seconds: number, perSec: number, cpuSeconds: number }> {
  let stop = false
  let sets = 0
  const t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  if (untilDone !== undefined) void untilDone.finally(() => { stop = true })
  else setTimeout(() => { stop = true }, RATE_IDLE_MS)
  const worker = async (w: number): Promise<void> => {
    let i = 0
    while (!stop) {
      const pick = (k: number): string => `sha1://${held[(w * 7919 + i * 31 + k) % held.length]}`
      await trove.setRef(`bench/rate/${label}/${w}/${i++}`, { files: [pick(0), pick(1), pick(2)] }, { priority: 1 })
      sets++
    }
  }
  await Promise.all(Array.from({ length: RATE_CONCURRENCY }, async (_, w) => worker(w)))
  const seconds = secondsSince(t0)
  const cpu = process.cpuUsage(c0)
  return { sets, seconds: round(seconds, 3), perSec: round(sets / seconds, 0), cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2) }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, dir: { type: 'string' }, parts: { type: 'string' } } })
  const sizes = (values.sizes ?? '100000,1000000').split(',').map((s) => Number(s))
  const parts = new Set((values.parts ?? 'plan,runs,rate').split(','))
  const tmp = await benchTempDir('trove-bench-space-', values.dir)
  const results: unknown[] = []
  try {
    for (const n of sizes) {
      note(`building a store of ${n} blobs and ${n / 10} refs`)
      const b = await build(tmp.dir, n)
      const t = b.trove
      note(`built in ${round(b.buildSeconds)} s, space index rebuilt in ${round(b.rebuildSeconds)} s`)
      const tenth = Math.floor(n / 10) * BLOB_SIZE
      const plan = await planSeconds(t, tenth)
      const d0 = process.hrtime.bigint()
      const dry = parts.has('plan') ? await t.space.gc({ dryRun: true, freeBytes: tenth }) : { blobs: [] }
      const drySeconds = secondsSince(d0)
      note(`plan of 10%: ${plan.blobs} blobs in ${round(plan.seconds, 3)} s (dry run with reasons ${round(drySeconds, 3)} s)`)
      const runs: Array<{ evicted: number, seconds: number, usPerBlob: number, cpuUsPerBlob: number }> = []
      for (const k of !parts.has('runs') ? [] : n >= 1_000_000 ? [1000, 10_000, 100_000] : [1000, 10_000]) {
        const r0 = process.hrtime.bigint()
        const c0 = process.cpuUsage()
        const report = await t.space.gc({ freeBytes: k * BLOB_SIZE })
        const s = secondsSince(r0)
        const cpu = process.cpuUsage(c0)
        runs.push({ evicted: report.evicted.blobs, seconds: round(s, 3), usPerBlob: round(s * 1e6 / Math.max(1, report.evicted.blobs), 1), cpuUsPerBlob: round((cpu.user + cpu.system) / Math.max(1, report.evicted.blobs), 1) })
        note(`run evicting ${report.evicted.blobs}: ${round(s, 3)} s`)
      }
      // the rate workload adds refs to the same held blobs, so sets slowly get dearer (more edges
      // per blob to reclassify): the idle rate is measured before and after the run, and the run
      // is compared with their mean, the idle rate of the store as it was during the run
      const idleBefore = await refSetRate(t, b.held, undefined, 'idle')
      const r0 = process.hrtime.bigint()
      const run = t.space.gc({ freeBytes: Math.floor(t.store.getUsage().blobs / 10) * BLOB_SIZE })
      const during = await refSetRate(t, b.held, run, 'gc')
      const report = await run
      const runSeconds = secondsSince(r0)
      const idleAfter = await refSetRate(t, b.held, undefined, 'idle2')
      const idle = (idleBefore.perSec + idleAfter.perSec) / 2
      note(`ref sets: idle ${idleBefore.perSec}/s before, ${idleAfter.perSec}/s after; during a run evicting ${report.evicted.blobs} blobs ${during.perSec}/s`)
      // CPU of the process (all threads) beyond what the sets cost while idle: the run's own
      const cpuPerSet = (idleBefore.cpuSeconds + idleAfter.cpuSeconds) / (idleBefore.sets + idleAfter.sets)
      const runCpuSeconds = during.cpuSeconds - during.sets * cpuPerSet
      note(`CPU: ${round(cpuPerSet * 1e6, 1)} us per idle set; the run's own ~${round(runCpuSeconds, 2)} s = ${round(runCpuSeconds * 1e6 / Math.max(1, report.evicted.blobs), 1)} us per evicted blob`)
      // a large run's compaction waits for a pause in writes: time it once the writers stopped
      const c0 = process.hrtime.bigint()
      await t.space.compacted()
      const compactWaitSeconds = secondsSince(c0)
      note(`compactions ${t.space.metrics.compactions}, last ${t.space.metrics.lastCompactionMs} ms (waited ${round(compactWaitSeconds, 2)} s for it); run yielded ${t.space.metrics.yieldedMs} ms to writers`)
      results.push({
        blobs: n,
        refs: n / 10,
        build: { seconds: round(b.buildSeconds, 2), filesCreated: b.files },
        rebuildIndexSeconds: round(b.rebuildSeconds, 2),
        plan10pct: { blobs: plan.blobs, plannerSeconds: round(plan.seconds, 3), dryRunSeconds: round(drySeconds, 3), dryRunListed: dry.blobs.length },
        runs,
        refSetRate: {
          idlePerSec: round(idle, 0),
          idleBeforePerSec: idleBefore.perSec,
          idleAfterPerSec: idleAfter.perSec,
          duringGcPerSec: during.perSec,
          ratio: round(during.perSec / idle, 2),
          cpuUsPerIdleSet: round(cpuPerSet * 1e6, 1),
          gcRun: { evicted: report.evicted.blobs, seconds: round(runSeconds, 2), yieldedToWritersSeconds: round(t.space.metrics.yieldedMs / 1000, 2), cpuUsPerBlob: round(runCpuSeconds * 1e6 / Math.max(1, report.evicted.blobs), 1) }
        },
        compaction: { count: t.space.metrics.compactions, lastSeconds: round(t.space.metrics.lastCompactionMs / 1000, 3) }
      })
      await t.close()
      await fs.rm(b.dataDir, { recursive: true, force: true })
    }
  } finally {
    await tmp.cleanup()
  }
  printResult({ bench: 'space', blobSize: BLOB_SIZE, node: process.version, results })
}

await main()
