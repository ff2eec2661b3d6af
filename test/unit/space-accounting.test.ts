import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { SpaceAccounting, type RoomMaker, type Target } from '../../src/space/accounting.js'
import type { SpaceLimits, SpaceLimitsInput } from '../../src/space/limits.js'
import type { GcTrigger } from '../../src/space/report.js'
import { formatSize } from '../../src/units.js'

/**
 * A SpaceAccounting over a fake store and disk: `blobs` is the blob counter, `disk` what the next
 * refresh measures, and `evictable` what a hard-limit run can free (taken from `blobs`).
 */
function setup (limits: SpaceLimitsInput, disk: { db: number, free?: number } = { db: 0 }): {
  acct: SpaceAccounting
  state: { blobs: number, evictable: number, disk: { db: number, free?: number } }
  calls: { makeRoom: number[], changed: number, wrote: string[] }
} {
  const state = { blobs: 0, evictable: 0, disk }
  const calls = { makeRoom: [] as number[], changed: 0, wrote: [] as string[] }
  const room: RoomMaker = {
    exclusive: async (fn) => fn(),
    makeRoom: async (need) => {
      calls.makeRoom.push(need)
      const freed = Math.min(need, state.evictable)
      state.evictable -= freed
      state.blobs -= freed
    },
    changed: () => { calls.changed++ },
    wrote: (sha1) => { calls.wrote.push(sha1) }
  }
  const acct = new SpaceAccounting(
    { store: { getUsage: () => ({ bytes: state.blobs }) }, layout: { db: '/nonexistent/db', blobs: '/nonexistent/blobs' }, room },
    { limits: { gracePeriodMs: 0, ...limits }, disk: async () => ({ db: state.disk.db, free: state.disk.free }) }
  )
  return { acct, state, calls }
}

describe('space accounting: one set of limit arithmetic', () => {
  it('no limit: nothing is short, nothing is over, a manual run takes every unreferenced blob', async () => {
    const { acct, state } = setup({})
    state.blobs = 10 ** 12
    await acct.refreshDisk()
    assert.equal(acct.shortfall(10 ** 12), 0)
    assert.equal(acct.overBy(), 0)
    assert.equal(acct.aboveHighWatermark(), false)
    assert.equal(acct.thresholds(), undefined)
    assert.deepEqual(acct.target('manual'), { mode: 'unreferenced', why: 'no size limit configured: every unreferenced blob past its grace period goes' })
    assert.deepEqual(acct.target('watermark'), { mode: 'bytes', bytes: 0, why: 'no size limit configured' })
    assert.deepEqual(acct.target('periodic'), { mode: 'bytes', bytes: 0, why: 'no size limit configured' })
  })

  it('maxSize: the high watermark triggers, a run aims at the low one, the hard limit (default maxSize) bounds writes', async () => {
    const { acct, state } = setup({ maxSize: 1000, highWatermark: 0.9, lowWatermark: 0.5 }, { db: 50 })
    state.blobs = 850
    await acct.refreshDisk()
    assert.deepEqual(acct.usage(), { blobs: 850, db: 50, reserved: 0, total: 900 })
    assert.deepEqual(acct.thresholds(), { high: 900, low: 500 })
    // at the high watermark exactly: not above it
    assert.equal(acct.aboveHighWatermark(), false)
    assert.equal(acct.overBy(), 0)
    assert.deepEqual(acct.target('periodic'), { mode: 'bytes', bytes: 0, why: 'usage is under the high watermark' })
    state.blobs = 900
    assert.equal(acct.aboveHighWatermark(), true)
    assert.equal(acct.overBy(), 50)
    assert.deepEqual(acct.target('watermark'), { mode: 'bytes', bytes: 450, why: 'usage 950 B is above the low watermark 500 B' })
    assert.deepEqual(acct.target('periodic'), acct.target('watermark'))
    assert.equal(acct.shortfall(50), 0)
    assert.equal(acct.shortfall(51), 1)
    state.blobs = 400
    assert.deepEqual(acct.target('manual'), { mode: 'bytes', bytes: 0, why: 'usage is under the low watermark: nothing to evict' })
    assert.deepEqual(acct.target('watermark'), { mode: 'bytes', bytes: 0, why: 'usage is under the low watermark' })
  })

  it('fractional lines round down: usage is whole bytes, so above 900.9 means above 900', async () => {
    const { acct, state } = setup({ maxSize: 1001, highWatermark: 0.9, lowWatermark: 0.5 })
    await acct.refreshDisk()
    state.blobs = 900
    assert.equal(acct.aboveHighWatermark(), false)
    state.blobs = 901
    assert.equal(acct.aboveHighWatermark(), true)
    assert.equal(acct.overBy(), 1)
    assert.equal((acct.target('manual') as { bytes: number }).bytes, 901 - 500)
  })

  it('a hard limit above maxSize: runs start at the watermark, writes fail only past the hard limit', async () => {
    const { acct, state } = setup({ maxSize: 1000, hardLimit: 2000 })
    await acct.refreshDisk()
    state.blobs = 1500
    assert.equal(acct.aboveHighWatermark(), true)
    assert.equal(acct.overBy(), 600)
    assert.equal(acct.shortfall(500), 0)
    assert.equal(acct.shortfall(600), 100)
    assert.deepEqual(acct.thresholds(), { high: 900, low: 800 })
  })

  it('minimum free disk: what was stored since the last statfs counts against it; without a statfs figure it is not checked', async () => {
    const { acct, state } = setup({ minFree: 100 }, { db: 0, free: 150 })
    await acct.refreshDisk()
    assert.equal(acct.usage().diskFree, 150)
    assert.equal(acct.aboveHighWatermark(), false)
    assert.equal(acct.shortfall(50), 0)
    assert.equal(acct.shortfall(60), 10)
    state.blobs = 80
    assert.equal(acct.usage().diskFree, 70)
    assert.equal(acct.aboveHighWatermark(), true)
    assert.equal(acct.overBy(), 30)
    assert.equal(acct.shortfall(10), 40)
    assert.deepEqual(acct.target('watermark'), { mode: 'bytes', bytes: 30, why: 'free disk 70 B is below the minimum 100 B' })
    // minFree alone is a limit: a manual run aims at bytes, not at every unreferenced blob
    assert.equal(acct.target('manual').mode, 'bytes')
    state.disk = { db: 0 }
    await acct.refreshDisk()
    assert.equal(acct.usage().diskFree, undefined)
    assert.equal(acct.shortfall(10 ** 9), 0)
    assert.equal(acct.aboveHighWatermark(), false)
  })

  it('maxSize and minFree together: the target is the larger need, the disk named only when it is strictly larger', async () => {
    const target = async (minFree: number): Promise<unknown> => {
      const { acct, state } = setup({ maxSize: 1000, highWatermark: 0.9, lowWatermark: 0.5, minFree }, { db: 0, free: 1000 })
      await acct.refreshDisk()
      // 450 above the low watermark; 50 bytes free on the disk
      state.blobs = 950
      return acct.target('watermark')
    }
    assert.deepEqual(await target(100), { mode: 'bytes', bytes: 450, why: 'usage 950 B is above the low watermark 500 B' })
    assert.deepEqual(await target(500), { mode: 'bytes', bytes: 450, why: 'usage 950 B is above the low watermark 500 B' })
    assert.deepEqual(await target(501), { mode: 'bytes', bytes: 451, why: 'free disk 50 B is below the minimum 501 B' })
  })

  it('pinned bytes may pass the hard limit; an unpinned write then makes room first and fails with StorageFullError when none can be made', async () => {
    const { acct, state, calls } = setup({ maxSize: 1000, highWatermark: 0.9, lowWatermark: 0.5 })
    await acct.refreshDisk()
    state.blobs = 800
    const releasePinned = await acct.reserve(500, { pinned: true })
    assert.equal(acct.usage().total, 1300)
    assert.deepEqual(calls.makeRoom, [])
    // over the limit, nothing evictable left: the run reports it once, and keeps the first time
    assert.equal(acct.afterRun({ satisfied: false, blocked: 'only protected content is left' }), 400)
    const since = acct.overLimit?.since
    assert.deepEqual(acct.overLimit, { since, bytesOver: 400, reason: 'only protected content is left' })
    assert.equal(acct.afterRun({ satisfied: false, blocked: 'still' }), 400)
    assert.equal(acct.overLimit?.since, since)
    assert.equal(acct.stats.overLimitEvents, 1)
    await assert.rejects(acct.reserve(10), (err: Error & { code?: string }) => err.name === 'StorageFullError' && err.code === 'STORAGE_FULL')
    assert.deepEqual(calls.makeRoom, [310])
    assert.equal(acct.stats.storageFullErrors, 1)
    assert.equal(acct.usage().reserved, 500)
    // with something evictable, the same write evicts what it needs and is admitted
    releasePinned()
    releasePinned()
    state.evictable = 300
    state.blobs = 950
    const release = await acct.reserve(100)
    assert.deepEqual(calls.makeRoom, [310, 50])
    assert.deepEqual(acct.usage(), { blobs: 900, db: 0, reserved: 100, total: 1000 })
    release()
    assert.equal(acct.afterRun({ satisfied: true }), undefined)
    assert.equal(acct.overLimit, undefined)
  })

  it('the write guard reserves as a write grows, makes room when it would pass the hard limit, and releases at the end', async () => {
    const { acct, state, calls } = setup({ maxSize: 1000, highWatermark: 0.9, lowWatermark: 0.5 })
    await acct.refreshDisk()
    state.blobs = 500
    state.evictable = 500
    const ticket = acct.guard().beginWrite({ pinned: false })
    assert.equal(ticket.grow(300), undefined)
    assert.equal(ticket.grow(200), undefined)
    assert.equal(acct.usage().reserved, 300)
    const waiting = ticket.grow(600)
    assert.ok(waiting instanceof Promise)
    await waiting
    assert.deepEqual(calls.makeRoom, [100])
    assert.equal(acct.usage().reserved, 600)
    ticket.end('a'.repeat(40))
    assert.equal(acct.usage().reserved, 0)
    assert.deepEqual(calls.wrote, ['a'.repeat(40)])
    assert.ok(calls.changed > 0)
    const pinned = acct.guard().beginWrite({ pinned: true })
    assert.equal(pinned.grow(10_000), undefined)
    assert.equal(acct.usage().reserved, 10_000)
    pinned.end()
    assert.equal(acct.usage().reserved, 0)
    assert.deepEqual(calls.makeRoom, [100])
  })

  it('configure merges new limits into the old ones, and keeps them when the new ones do not add up', async () => {
    const { acct } = setup({ maxSize: 1000, highWatermark: 0.8, lowWatermark: 0.5 })
    acct.configure({ maxSize: 2000 })
    assert.deepEqual([acct.limits.maxSize, acct.limits.highWatermark, acct.limits.lowWatermark, acct.limits.hardLimit], [2000, 0.8, 0.5, 2000])
    assert.throws(() => { acct.configure({ lowWatermark: 0.9 }) }, { name: 'InvalidArgumentError' })
    assert.equal(acct.limits.lowWatermark, 0.5)
    assert.match(acct.describe(), /^hard limit 1\.95 KiB, maxSize 1\.95 KiB, in use 0 B$/)
  })

  it('agrees with the four separate versions it replaced (shortfall, aboveHighWatermark, targetFor, overBy)', async () => {
    const limitsArb = fc.record({
      maxSize: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
      high: fc.integer({ min: 2, max: 100 }),
      lowBelow: fc.integer({ min: 1, max: 99 }),
      minFree: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
      hardExtra: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined })
    })
    const stateArb = fc.record({
      blobsAtDisk: fc.integer({ min: 0, max: 20_000 }),
      blobs: fc.integer({ min: 0, max: 20_000 }),
      db: fc.integer({ min: 0, max: 2_000 }),
      reserved: fc.integer({ min: 0, max: 5_000 }),
      free: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
      extra: fc.integer({ min: 0, max: 20_000 }),
      trigger: fc.constantFrom<GcTrigger>('manual', 'watermark', 'periodic', 'hard-limit')
    })
    await fc.assert(fc.asyncProperty(limitsArb, stateArb, async (l, st) => {
      const highWatermark = l.high / 100
      const lowWatermark = Math.min(l.lowBelow, l.high - 1) / 100
      const input: SpaceLimitsInput = { highWatermark, lowWatermark, minFree: l.minFree }
      if (l.maxSize !== undefined) input.maxSize = l.maxSize
      if (l.hardExtra !== undefined) input.hardLimit = Math.ceil((l.maxSize ?? 0) * highWatermark) + l.hardExtra
      const { acct, state } = setup(input, { db: st.db, free: st.free })
      state.blobs = st.blobsAtDisk
      await acct.refreshDisk()
      state.blobs = st.blobs
      await acct.reserve(st.reserved, { pinned: true })
      const old = oldArithmetic(acct.limits, acct.usage().total, acct.usage().diskFree)
      assert.equal(acct.shortfall(st.extra), old.shortfall(st.extra))
      assert.equal(acct.aboveHighWatermark(), old.aboveHighWatermark())
      assert.equal(acct.overBy(), old.overBy())
      assert.deepEqual(acct.target(st.trigger), old.targetFor(st.trigger))
    }), { numRuns: 2000 })
  })
})

/** The limit arithmetic as SpaceManager had it in four places (d339081), kept as the reference. */
function oldArithmetic (limits: SpaceLimits, total: number, free: number | undefined): {
  shortfall: (extra: number) => number
  aboveHighWatermark: () => boolean
  overBy: () => number
  targetFor: (trigger: GcTrigger) => Target
} {
  const shortfall = (extra: number): number => {
    let need = 0
    const { hardLimit, minFree } = limits
    if (hardLimit !== undefined) need = Math.max(need, total + extra - hardLimit)
    if (minFree > 0 && free !== undefined) need = Math.max(need, minFree - (free - extra))
    return need
  }
  const aboveHighWatermark = (): boolean => {
    const { maxSize, highWatermark, minFree } = limits
    if (maxSize !== undefined && total > maxSize * highWatermark) return true
    return minFree > 0 && free !== undefined && free < minFree
  }
  const overBy = (): number => {
    const { maxSize, highWatermark, minFree } = limits
    let over = 0
    if (maxSize !== undefined) over = Math.max(over, total - Math.floor(maxSize * highWatermark))
    if (minFree > 0 && free !== undefined) over = Math.max(over, minFree - free)
    return over
  }
  const targetFor = (trigger: GcTrigger): Target => {
    const { maxSize, lowWatermark, minFree } = limits
    if (maxSize === undefined && minFree === 0) {
      if (trigger !== 'manual') return { mode: 'bytes', bytes: 0, why: 'no size limit configured' }
      return { mode: 'unreferenced', why: 'no size limit configured: every unreferenced blob past its grace period goes' }
    }
    if (trigger === 'periodic' && !aboveHighWatermark()) return { mode: 'bytes', bytes: 0, why: 'usage is under the high watermark' }
    let bytes = 0
    let why = 'usage is under the low watermark'
    if (maxSize !== undefined) {
      const low = Math.floor(maxSize * lowWatermark)
      if (total > low) {
        bytes = total - low
        why = `usage ${formatSize(total)} is above the low watermark ${formatSize(low)}`
      }
    }
    if (minFree > 0 && free !== undefined && free < minFree && minFree - free > bytes) {
      bytes = minFree - free
      why = `free disk ${formatSize(free)} is below the minimum ${formatSize(minFree)}`
    }
    if (trigger === 'manual' && bytes === 0) why += ': nothing to evict'
    return { mode: 'bytes', bytes, why }
  }
  return { shortfall, aboveHighWatermark, overBy, targetFor }
}
