import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { RefRecord } from '../../src/refs/ref-store.js'
import type { Target } from '../../src/space/accounting.js'
import { DELETE_BATCH, DRY_RUN_MAX_LIST, RUN_HISTORY_BLOBS } from '../../src/space/constants.js'
import { SWEEP_AUTHOR } from '../../src/space/expiry-sweep.js'
import { GcRun, type GcRunComponents, type GcRunInit } from '../../src/space/gc-run.js'
import type { PlanEntry, PlanOptions, PlanSkips } from '../../src/space/planner.js'
import { NO_REPLICAS } from '../../src/space/replicas.js'
import type { GcReport } from '../../src/space/report.js'
import { emptyTotals } from '../../src/space/state.js'
import { addBlob, openSpaceTrove, settle, uri, type SpaceTrove } from '../helpers/space.js'

function sha1 (n: number): string {
  return n.toString(16).padStart(40, '0')
}

function entry (n: number, size: number, cls: PlanEntry['class'] = 'unreferenced'): PlanEntry {
  const e: PlanEntry = { sha1: sha1(n), key: `${cls === 'unreferenced' ? 1 : 2}${String(n).padStart(8, '0')}`, size, class: cls, lastUsed: 1000, addedAt: 500, replicas: 0, reason: `entry ${n}` }
  if (cls === 'referenced') e.priority = 0
  return e
}

/**
 * A GcRun over fakes: the planner yields `plan` (counting one `grace` skip first), the index
 * deletes what the run's last check lets through, refs hold one expired ref. `state` is what the
 * test changes between planning and deleting; `seen` what the fakes were asked.
 */
function fakes (plan: PlanEntry[]): {
  components: GcRunComponents
  state: { usage: number, leased: Set<string>, used: Map<string, number>, failBatch: boolean, failBlob: Set<string>, writers: boolean, beforeDelete: () => void }
  seen: { deleted: string[], batches: number, removedRefs: string[], planOptions: PlanOptions[], runActive: boolean[], flushes: number }
} {
  const state = { usage: 100_000, leased: new Set<string>(), used: new Map<string, number>(), failBatch: false, failBlob: new Set<string>(), writers: false, beforeDelete: () => {} }
  const seen = { deleted: [] as string[], batches: 0, removedRefs: [] as string[], planOptions: [] as PlanOptions[], runActive: [] as boolean[], flushes: 0 }
  const expired: RefRecord = { key: 'old/ref', version: 1, obj: {}, meta: { expires: new Date(0).toISOString() }, setAt: new Date(0).toISOString() }
  const refs = new Map([[expired.key, expired]])
  const totals = emptyTotals()
  totals.protected.bytes = 4096
  const index: GcRunComponents['index'] = {
    totals,
    runActive: false,
    flushAccess: async () => { seen.flushes++ },
    drain: async () => {},
    deleteCandidates: async (cands, keep) => {
      seen.batches++
      seen.runActive.push(index.runActive)
      state.beforeDelete()
      if (state.failBatch) throw new Error('batch failed')
      const out = { deleted: [] as Array<{ sha1: string, size: number, addedAt: number }>, errors: [] as Array<{ sha1: string, error: string }> }
      for (const c of cands) {
        if (keep(c.sha1)) continue
        if (state.failBlob.has(c.sha1)) {
          out.errors.push({ sha1: c.sha1, error: 'EACCES' })
          continue
        }
        seen.deleted.push(c.sha1)
        state.usage -= c.size
        out.deleted.push({ sha1: c.sha1, size: c.size, addedAt: 500 })
      }
      return out
    }
  }
  const components: GcRunComponents = {
    refs: {
      expiredBy: async function * () { for (const [k, r] of refs) if (r.meta.expires !== undefined) yield k },
      peek: async (key) => refs.get(key),
      keys: async function * () { yield * refs.keys() },
      accessedKeys: async function * () {},
      lastAccess: async () => undefined,
      flushAccess: async () => {},
      rm: async (key, options) => {
        assert.equal(options?.by, SWEEP_AUTHOR)
        seen.removedRefs.push(key)
        refs.delete(key)
        return { key, version: 2 }
      },
      holdersMany: async (sha1s) => new Map(sha1s.map((s) => [s, [{ key: `holds/${s.slice(-2)}`, priority: 0, pin: false }]]))
    },
    leases: { isLeased: (s) => state.leased.has(s) },
    index,
    planner: {
      candidates: async function * (skips: PlanSkips, options: PlanOptions) {
        seen.planOptions.push(options)
        skips.grace.blobs++
        skips.grace.bytes += 7
        for (const c of plan) yield { ...c }
      },
      skipReason: (e) => state.leased.has(e.sha1) ? 'leased' : undefined
    },
    accounting: {
      usage: () => ({ blobs: state.usage, db: 0, reserved: 0, total: state.usage }),
      refreshDisk: async () => {},
      target: (trigger) => ({ mode: 'bytes', bytes: 0, why: `nothing for ${trigger}` })
    },
    access: { get: (s) => state.used.get(s) },
    watch: { writersActive: () => state.writers },
    replicas: () => NO_REPLICAS
  }
  return { components, state, seen }
}

async function run (components: GcRunComponents, init: Partial<GcRunInit> & { target?: Target }): Promise<GcReport> {
  return (await new GcRun(components, { trigger: 'manual', gracePeriodMs: 0, ...init }).run()).report
}

/** A report without what differs between a dry run and a run by design. */
function comparable (r: GcReport): unknown {
  return {
    target: r.target,
    usageBefore: r.usageBefore,
    evicted: r.evicted,
    blobs: r.blobs.map(({ heldBy: _heldBy, ...b }) => b),
    expiredRefs: r.expiredRefs,
    skipped: r.skipped,
    errors: r.errors,
    satisfied: r.satisfied,
    blocked: r.blocked
  }
}

describe('gc run: a dry run is the same path', () => {
  it('a dry run plans exactly what the run then deletes, and changes nothing', async () => {
    const plan = Array.from({ length: 12 }, (_, i) => entry(i, 100 + i, i < 8 ? 'unreferenced' : 'referenced'))
    const target: Target = { mode: 'bytes', bytes: 1000, why: 'asked to free 1000 B' }
    const f = fakes(plan)
    const dry = await run(f.components, { dryRun: true, target })
    assert.equal(dry.dryRun, true)
    assert.deepEqual(f.seen.deleted, [])
    assert.deepEqual(f.seen.removedRefs, [])
    assert.equal(f.seen.flushes, 0)
    assert.deepEqual(dry.expiredRefs.map((e) => [e.key, e.reason]), [['old/ref', 'expires']])
    // the plan stops at the first blob that reaches the target: 100 + ... + 109 > 1000 at the 10th
    assert.deepEqual(dry.blobs.map((b) => b.sha1), plan.slice(0, 10).map((p) => p.sha1))
    assert.equal(dry.usageAfter, dry.usageBefore - dry.evicted.bytes)
    assert.deepEqual(dry.blobs.filter((b) => b.class === 'referenced').map((b) => b.heldBy), [[`holds/${sha1(8).slice(-2)}`], [`holds/${sha1(9).slice(-2)}`]])
    const real = await run(f.components, { target })
    assert.equal(real.dryRun, false)
    assert.deepEqual(comparable(real), comparable(dry))
    assert.deepEqual(f.seen.deleted, dry.blobs.map((b) => b.sha1))
    assert.deepEqual(f.seen.removedRefs, ['old/ref'])
    assert.equal(real.usageAfter, real.usageBefore - real.evicted.bytes)
    assert.ok(real.blobs.every((b) => b.heldBy === undefined))
    // both plans were asked for the same thing
    assert.deepEqual(f.seen.planOptions[0], f.seen.planOptions[1])
  })

  it('the same batches and the same stop: DELETE_BATCH per batch, a run lists RUN_HISTORY_BLOBS, a dry run all', async () => {
    const n = DELETE_BATCH * 2 + 10
    const plan = Array.from({ length: n }, (_, i) => entry(i, 1))
    const target: Target = { mode: 'bytes', bytes: DELETE_BATCH + 5, why: 'some' }
    const f = fakes(plan)
    const dry = await run(f.components, { dryRun: true, target })
    assert.equal(dry.blobs.length, DELETE_BATCH + 5)
    const real = await run(f.components, { target })
    assert.equal(f.seen.batches, 2)
    assert.deepEqual(f.seen.runActive, [true, true])
    assert.equal(f.components.index.runActive, false)
    assert.equal(real.evicted.blobs, DELETE_BATCH + 5)
    assert.deepEqual(real.blobs.map((b) => b.sha1), dry.blobs.slice(0, RUN_HISTORY_BLOBS).map((b) => b.sha1))
  })

  it('without a target a dry run lists the first DRY_RUN_MAX_LIST; the run goes to the end of the plan', async () => {
    const plan = Array.from({ length: DRY_RUN_MAX_LIST + 3 }, (_, i) => entry(i, 1))
    const target: Target = { mode: 'unreferenced', why: 'no size limit configured' }
    const f = fakes(plan)
    const dry = await run(f.components, { dryRun: true, target })
    assert.equal(dry.evicted.blobs, DRY_RUN_MAX_LIST)
    assert.equal(dry.satisfied, true)
    const real = await run(f.components, { target })
    assert.equal(real.evicted.blobs, DRY_RUN_MAX_LIST + 3)
    assert.ok(f.seen.planOptions.every((o) => o.onlyUnreferenced === true))
  })

  it('a target of 0 bytes plans nothing; the target comes from the limits when none is given', async () => {
    const f = fakes([entry(1, 10)])
    const report = await run(f.components, { trigger: 'watermark' })
    assert.deepEqual(report.target, { mode: 'bytes', bytes: 0, why: 'nothing for watermark' })
    assert.equal(f.seen.planOptions.length, 0)
    assert.equal(report.satisfied, true)
    assert.equal(report.trigger, 'watermark')
  })
})

describe('gc run: the last check and what a run reports', () => {
  it('a blob leased or used after planning is kept and counted as skipped (leased, changing); a failed blob is an error', async () => {
    const plan = [entry(1, 10), entry(2, 20), entry(3, 30), entry(4, 40)]
    const f = fakes(plan)
    f.state.failBlob.add(sha1(4))
    f.state.beforeDelete = () => {
      f.state.leased.add(sha1(1))
      f.state.used.set(sha1(2), 2000)
    }
    const report = await run(f.components, { target: { mode: 'bytes', bytes: 100, why: 'all' } })
    assert.deepEqual(report.blobs.map((b) => b.sha1), [sha1(3)])
    assert.deepEqual(report.skipped.leased, { blobs: 1, bytes: 10 })
    assert.deepEqual(report.skipped.changing, { blobs: 1, bytes: 20 })
    assert.deepEqual(report.skipped.grace, { blobs: 1, bytes: 7 })
    assert.deepEqual(report.errors, [{ sha1: sha1(4), error: 'EACCES' }])
    assert.equal(report.satisfied, false)
    assert.equal(report.blocked, 'only protected content is left: 4.00 KiB pinned or held by pinned refs, 10 B in use (leased), 7 B in the grace period, 20 B being reclassified')
  })

  it('a failed batch fails its blobs, not the run', async () => {
    const f = fakes([entry(1, 10), entry(2, 20)])
    f.state.failBatch = true
    const report = await run(f.components, { target: { mode: 'bytes', bytes: 30, why: 'all' } })
    assert.deepEqual(report.errors, [{ sha1: sha1(1), error: 'batch failed' }, { sha1: sha1(2), error: 'batch failed' }])
    assert.equal(report.evicted.blobs, 0)
  })

  it('a run pauses for writers between batches; a run for the hard limit neither pauses nor sweeps', async () => {
    const plan = Array.from({ length: DELETE_BATCH * 2 }, (_, i) => entry(i, 1))
    const target: Target = { mode: 'bytes', bytes: DELETE_BATCH * 2, why: 'all' }
    let f = fakes(plan)
    f.state.writers = true
    let yielded = 0
    await run(f.components, { target, onYield: (ms) => { yielded += ms } })
    assert.ok(yielded > 0)
    assert.deepEqual(f.seen.removedRefs, ['old/ref'])
    f = fakes(plan)
    f.state.writers = true
    yielded = 0
    const report = await run(f.components, { trigger: 'hard-limit', target, onYield: (ms) => { yielded += ms } })
    assert.equal(yielded, 0)
    assert.deepEqual(report.expiredRefs, [])
    assert.deepEqual(f.seen.removedRefs, [])
    assert.equal(report.evicted.blobs, DELETE_BATCH * 2)
  })

  it('an aborted run stops before its next batch', async () => {
    const f = fakes(Array.from({ length: DELETE_BATCH * 3 }, (_, i) => entry(i, 1)))
    const abort = new AbortController()
    f.state.beforeDelete = () => { abort.abort() }
    const report = await run(f.components, { target: { mode: 'bytes', bytes: DELETE_BATCH * 3, why: 'all' }, signal: abort.signal })
    assert.equal(f.seen.batches, 1)
    assert.equal(report.evicted.blobs, DELETE_BATCH)
  })

  it('the run hands back the last eviction key it deleted, for the compaction', async () => {
    const f = fakes([entry(5, 1), entry(3, 1), entry(9, 1)])
    const out = await new GcRun(f.components, { trigger: 'manual', gracePeriodMs: 0, target: { mode: 'bytes', bytes: 3, why: 'all' } }).run()
    assert.equal(out.lastKey, entry(9, 1).key)
    const dry = await new GcRun(f.components, { trigger: 'manual', gracePeriodMs: 0, dryRun: true, target: { mode: 'bytes', bytes: 3, why: 'all' } }).run()
    assert.equal(dry.lastKey, undefined)
  })
})

describe('gc run through the space manager', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove({ maxSize: 4000, highWatermark: 0.9, lowWatermark: 0.5, hardLimit: '1GB' }) })
  after(async () => { await h.cleanup() })

  it('gc --dry-run lists, in order, exactly what gc then evicts', async () => {
    const t = h.trove
    const blobs: string[] = []
    for (let i = 0; i < 6; i++) blobs.push(await addBlob(t, 700 + i))
    await t.setRef('dry/keep', { a: uri(blobs[0]), b: uri(blobs[1]) }, { priority: 2 })
    await t.setRef('dry/low', { c: uri(blobs[2]) }, { priority: 0 })
    await settle(t)
    const dry = await t.space.gc({ dryRun: true })
    assert.ok(dry.blobs.length > 0 && dry.blobs.length < RUN_HISTORY_BLOBS)
    assert.equal(t.space.lastRuns.length, 0, 'a dry run is not a run')
    const real = await t.space.gc()
    assert.deepEqual(real.blobs.map((b) => b.sha1), dry.blobs.map((b) => b.sha1))
    assert.deepEqual(real.target, dry.target)
    assert.deepEqual(real.evicted, dry.evicted)
    assert.deepEqual(real.skipped, dry.skipped)
    assert.equal(t.space.lastRuns.length, 1)
  })

  it('onRun hears every run as it ends, not dry runs', async () => {
    const t = h.trove
    const heard: GcReport[] = []
    const off = t.space.onRun((r) => { heard.push(r) })
    await t.space.gc({ dryRun: true })
    const report = await t.space.gc()
    off()
    await t.space.gc()
    assert.deepEqual(heard, [report])
  })
})
