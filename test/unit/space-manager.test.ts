import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { SPACE_TOTALS } from '../../src/db/keys.js'
import type { ClassTotals } from '../../src/db/schema.js'
import { readRecord } from '../helpers/packs.js'
import { addBlob, openSpaceTrove, settle, sha1Of, uri, type SpaceTrove } from '../helpers/space.js'

const KIB = 1024
const MIB = 1024 * 1024

/** Waits (polling) until `check` holds; fails after a generous deadline, never asserts on timing. */
async function until (check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe('space manager: watermarks', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove({ maxSize: 2 * MIB, highWatermark: 0.9, lowWatermark: 0.5, hardLimit: '1GB' }) })
  after(async () => { await h.cleanup() })

  it('a write above the high watermark starts a background run that evicts down to the low watermark, not everything', async () => {
    const t = h.trove
    for (let i = 0; i < 40; i++) await addBlob(t, 64 * KIB)
    await until(() => t.space.lastRuns.some((r) => r.trigger === 'watermark') && !t.space.isRunning, 'a watermark run')
    await settle(t)
    const usage = t.space.usage()
    assert.ok(usage.total <= 0.9 * 2 * MIB, `usage ${usage.total} is still above the high watermark`)
    assert.ok(t.store.getUsage().blobs > 0, 'a run must not evict everything')
    const run = t.space.lastRuns.find((r) => r.trigger === 'watermark')
    assert.ok(run !== undefined && run.evictedBlobs > 0 && run.satisfied)
    const status = await t.status() as unknown as { space: { thresholds: { high: number, low: number }, lastRuns: unknown[] } }
    assert.equal(status.space.thresholds.low, MIB)
    assert.ok(status.space.lastRuns.length > 0)
  })
})

describe('space manager: hard limit', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove({ maxSize: MIB, highWatermark: 0.9, lowWatermark: 0.5, hardLimit: MIB }) })
  after(async () => { await h.cleanup() })

  it('a write that would pass the hard limit first evicts, then fails with StorageFull when only protected content is left', async () => {
    const t = h.trove
    const first: string[] = []
    for (let i = 0; i < 3; i++) first.push(await addBlob(t, 200 * KIB))
    // more than fits: the older unreferenced blobs are evicted synchronously to make room
    const held: string[] = []
    for (let i = 0; i < 3; i++) {
      const sha1 = await addBlob(t, 200 * KIB)
      await t.setRef(`hard/${i}`, { f: uri(sha1) }, { pin: true })
      held.push(sha1)
    }
    await settle(t)
    assert.ok(t.space.usage().total <= MIB)
    for (const s of held) assert.ok(await t.store.has(s))
    assert.ok((await Promise.all(first.map(async (s) => t.store.has(s)))).some((x) => !x), 'unreferenced blobs made room')
    // the write evicts everything evictable, still does not fit, fails cleanly and stores nothing
    await assert.rejects(addBlob(t, 600 * KIB), (err: Error & { code?: string }) => err.name === 'StorageFullError' && err.code === 'STORAGE_FULL')
    assert.deepEqual(t.store.getUsage(), { bytes: 600 * KIB, blobs: 3 })
    assert.deepEqual(await fs.readdir(t.layout.tmp), [])
    assert.equal(t.space.usage().reserved, 0)
  })

  it('a pinned write may pass the hard limit', async () => {
    const t = h.trove
    const file = path.join(path.dirname(h.dataDir), 'pinned.bin')
    await fs.writeFile(file, Buffer.alloc(300 * KIB, 7))
    const [r] = await t.addFiles([file], { pin: true })
    assert.ok(await t.store.has(r.sha1))
  })

  it('reservations for downloads count, evict first, and fail with StorageFull when nothing can go', async () => {
    const t = h.trove
    await assert.rejects(t.space.reserve(600 * KIB), (err: Error & { code?: string }) => err.code === 'STORAGE_FULL')
    for (let i = 0; i < 3; i++) await t.rmRef(`hard/${i}`)
    await settle(t)
    const release = await t.space.reserve(500 * KIB)
    assert.equal(t.space.usage().reserved, 500 * KIB)
    assert.ok(t.space.usage().total <= MIB)
    release()
    release()
    assert.equal(t.space.usage().reserved, 0)
  })
})

describe('space manager: leases', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('a blob under a fetch lease or an open read is not evicted; it goes once released', async () => {
    const t = h.trove
    const fetched = await addBlob(t, 1000)
    const served = await addBlob(t, 300 * KIB)
    // what the fetcher does while a download is in progress: a lease on the blob and a reservation
    const release = t.store.lease(fetched)
    const unreserve = await t.space.reserve(1000)
    const reader = await t.store.read(served)
    let report = await t.gc()
    assert.equal(report.evicted.blobs, 0)
    assert.equal(report.skipped.leased.blobs, 2)
    const why = await t.why(uri(fetched))
    assert.equal(why.space?.leased, true)
    // the open read still delivers every byte
    let bytes = 0
    for await (const chunk of reader) bytes += (chunk as Buffer).length
    assert.equal(bytes, 300 * KIB)
    release()
    unreserve()
    report = await t.gc()
    assert.equal(report.evicted.blobs, 2)
  })

  it('a blob leased or used after the run planned it, before its batch: kept, and counted as skipped', async () => {
    const t = h.trove
    const leased = await addBlob(t, 1000)
    const used = await addBlob(t, 2000)
    const free = await addBlob(t, 3000)
    await settle(t)
    // between planning and the batch: what a fetch or a reader starting at that moment does
    const deleteBatch = t.store.deleteBatch.bind(t.store)
    let release: () => void = () => {}
    t.store.deleteBatch = async (sha1s, options) => {
      release = t.store.lease(leased)
      t.space.touch(used, Date.now() + 60_000)
      return deleteBatch(sha1s, options)
    }
    try {
      const report = await t.gc()
      assert.deepEqual(report.blobs.map((b) => b.sha1), [free])
      assert.deepEqual(report.skipped.leased, { blobs: 1, bytes: 1000 })
      assert.deepEqual(report.skipped.changing, { blobs: 1, bytes: 2000 })
      assert.equal(await t.store.has(leased), true)
      assert.equal(await t.store.has(used), true)
    } finally {
      t.store.deleteBatch = deleteBatch
      release()
    }
    await settle(t)
    const again = await t.gc()
    assert.deepEqual(again.blobs.map((b) => b.sha1).sort(), [leased, used].sort())
  })

  it('an add in progress during a run completes and leaves a consistent store', async () => {
    const t = h.trove
    const older = await addBlob(t, 1000)
    let resume: () => void = () => {}
    const gate = new Promise<void>((resolve) => { resume = resolve })
    async function * slow (): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(64 * KIB, 1)
      await gate
      yield Buffer.alloc(64 * KIB, 2)
    }
    const adding = t.store.put(slow())
    const run = t.gc()
    const report = await run
    resume()
    const added = await adding
    assert.ok(report.blobs.some((b) => b.sha1 === older))
    assert.ok(await t.store.has(added.sha1))
    assert.equal((await t.store.readBytes(added.sha1)).length, 128 * KIB)
    assert.equal((await t.verify()).ok, true)
  })
})

describe('space manager: a run and concurrent writers', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('a run yields between its delete batches while refs are being set, and still evicts what it was asked to', async () => {
    const t = h.trove
    const kept = await addBlob(t, 100)
    const blobs: string[] = []
    for (let i = 0; i < 600; i++) blobs.push(await addBlob(t, 10))
    await settle(t)
    let stop = false
    let sets = 0
    const writer = (async () => {
      while (!stop) await t.setRef(`busy/${sets++}`, { f: uri(kept) })
    })()
    const report = await t.space.gc({ freeBytes: 600 * 10 })
    stop = true
    await writer
    assert.equal(report.evicted.blobs, 600)
    assert.ok(t.space.metrics.yieldedMs > 0, 'the run never made way for the writer')
    assert.ok(sets > 0)
    assert.equal(await t.store.has(kept), true)
    await settle(t)
    assert.equal((await t.verify()).ok, true)
  })
})

describe('space manager: expiry and ttl', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('refs past `expires` are removed by the run and their blobs lose that hold', async () => {
    const t = h.trove
    const a = await addBlob(t, 500)
    const b = await addBlob(t, 500)
    await t.setRef('exp/past', { f: uri(a) }, { expires: new Date(Date.now() - 1000).toISOString(), priority: 9 })
    await t.setRef('exp/future', { f: uri(b) }, { expires: new Date(Date.now() + 3_600_000).toISOString() })
    const dry = await t.gc({ dryRun: true })
    assert.deepEqual(dry.expiredRefs.map((e) => [e.key, e.reason]), [['exp/past', 'expires']])
    const status = await t.status() as unknown as { space: { classes: { expired: { blobs: number, bytes: number } } } }
    assert.deepEqual(status.space.classes.expired, { blobs: 1, bytes: 500 })
    const report = await t.gc()
    assert.deepEqual(report.expiredRefs.map((e) => e.key), ['exp/past'])
    assert.deepEqual(report.blobs.map((x) => x.sha1), [a])
    assert.equal(await t.refs.has('exp/past'), false)
    assert.ok(await t.store.has(b))
    const history = await t.refHistory('exp/past')
    assert.equal(history[history.length - 1].by, 'trove-expiry')
    await t.rmRef('exp/future')
  })

  it('refs unused for longer than their ttl are removed; a recent read keeps one', async () => {
    const t = h.trove
    const a = await addBlob(t, 500)
    const b = await addBlob(t, 500)
    await t.setRef('ttl/short', { f: uri(a) }, { ttl: '50ms' })
    await t.setRef('ttl/read', { f: uri(b) }, { ttl: '300ms' })
    await sleep(200)
    await t.getRef('ttl/read')
    const report = await t.gc()
    assert.deepEqual(report.expiredRefs.map((e) => [e.key, e.reason]), [['ttl/short', 'ttl']])
    assert.equal(await t.store.has(a), false)
    assert.ok(await t.store.has(b))
    assert.ok(await t.refs.has('ttl/read'))
  })
})

describe('space manager: crash recovery and reconcile', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('deletion intents left by a killed run are finished at open', async () => {
    const t = h.trove
    // streamed: a file of its own, the thing a killed run leaves behind
    const { sha1: a } = await t.store.put([randomBytes(100)])
    await settle(t)
    // what a run leaves when killed between its index batch and the file removal
    await t.store.deleteBatch([a], { extraOps: () => [{ type: 'put', sublevel: t.db.spaceMeta, key: `intent!${a}`, value: 1 }] })
    await fs.writeFile(t.store.pathOf(a), 'left behind')
    const trove = await h.reopen()
    await assert.rejects(fs.stat(trove.store.pathOf(a)))
    assert.equal((await trove.verify()).ok, true)
  })

  it('a killed run\'s per-batch intent record is finished at open, and a blob stored again since keeps its file', async () => {
    const t = h.trove
    const { sha1: gone } = await t.store.put([randomBytes(100)])
    const backBytes = randomBytes(120)
    const { sha1: back } = await t.store.put([backBytes])
    await settle(t)
    await t.store.deleteBatch([gone, back], { extraOps: () => [{ type: 'put', sublevel: t.db.spaceMeta, key: 'intents!0000000000000001', value: [gone, back] }] })
    await fs.writeFile(t.store.pathOf(gone), 'left behind')
    // stored again after the deletion batch: the file belongs to the new entry now
    await t.store.put([backBytes])
    const trove = await h.reopen()
    await assert.rejects(fs.stat(trove.store.pathOf(gone)))
    assert.equal(await trove.store.has(back), true)
    assert.deepEqual(await fs.readFile(trove.store.pathOf(back)), backBytes)
    assert.deepEqual(await trove.db.spaceMeta.keys({ gt: 'intents!', lt: 'intents!\uffff' }).all(), [])
    assert.equal((await trove.verify()).ok, true)
  })

  it('a packed blob deleted by a killed run stays deleted: its record is dead space, never adopted again', async () => {
    const t = h.trove
    const goneBytes = randomBytes(100)
    const gone = await addBlob(t, goneBytes)
    const kept = randomBytes(150)
    await addBlob(t, kept)
    const loc = await t.store.locate(gone)
    assert.ok(loc?.packed === true)
    await settle(t)
    const usage = t.store.getUsage()
    // what a run leaves when killed right after its index batch: for a packed blob there is no file to remove
    await t.store.deleteBatch([gone], { extraOps: () => [{ type: 'put', sublevel: t.db.spaceMeta, key: 'intents!0000000000000002', value: [gone] }] })
    const trove = await h.reopen()
    assert.equal(await trove.store.has(gone), false)
    await assert.rejects(trove.store.readBytes(gone), { name: 'BlobNotFoundError' })
    assert.deepEqual(trove.store.getUsage(), { bytes: usage.bytes - 100, blobs: usage.blobs - 1 })
    // the record's bytes are still in the pack, unindexed
    assert.deepEqual(await readRecord(loc.path, loc.offset), { sha1: gone, bytes: goneBytes })
    const report = await trove.verify()
    assert.equal(report.ok, true, JSON.stringify(report))
    assert.deepEqual(report.adopted, [])
    assert.equal(await trove.store.has(gone), false)
    assert.deepEqual(await trove.store.readBytes(sha1Of(kept)), kept)
    assert.deepEqual(await trove.db.spaceMeta.keys({ gt: 'intents!', lt: 'intents!\uffff' }).all(), [])
    // stored again, it is a new record
    assert.equal((await trove.store.putBytes(goneBytes)).added, true)
    assert.deepEqual(await trove.store.readBytes(gone), goneBytes)
    assert.notEqual((await trove.store.locate(gone))?.offset, loc.offset)
  })

  it('reconcile rebuilds the index when the class counters drifted', async () => {
    const t = h.trove
    await addBlob(t, 100)
    await settle(t)
    // counters that no longer add up, as a crash or a hand-edited directory leaves them
    const drifted = await t.db.spaceMeta.get(SPACE_TOTALS) as ClassTotals
    drifted.unreferenced.bytes += 12345
    await t.db.spaceMeta.put(SPACE_TOTALS, drifted)
    const trove = await h.reopen()
    assert.equal(await trove.space.reconcile(), true)
    assert.equal(await trove.space.reconcile(), false)
    const u = trove.store.getUsage()
    const tot = (await trove.space.status()).classes
    assert.equal(tot.pinned.bytes + tot.referenced.bytes + tot.unreferenced.bytes, u.bytes)
  })
})
