import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { addBlob, openSpaceTrove, settle, uri, useAt, type SpaceTrove } from '../helpers/space.js'

const HOUR = 3_600_000
// last-use times can only move forward (a flush never makes a blob look older), so tests order
// blobs by uses in the future: the start of an hour, so T0 and T0 + 1s share an LRU bucket
const T0 = (Math.floor(Date.now() / HOUR) + 2) * HOUR
/** Limits under which a run wants to evict everything it may (the database alone is above them). */
const EVICT_ALL = { maxSize: 1000, lowWatermark: 0.1, highWatermark: 0.5, hardLimit: '1GB' }

describe('space planner: eviction order', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('unreferenced first, then by strongest ref priority, lowest first', async () => {
    const t = h.trove
    const [free, p5, pm1, p0] = [await addBlob(t, 100), await addBlob(t, 100), await addBlob(t, 100), await addBlob(t, 100)]
    await t.setRef('order/p5', { f: uri(p5) }, { priority: 5 })
    await t.setRef('order/pm1', { f: uri(pm1) }, { priority: -1 })
    await t.setRef('order/p0', { f: uri(p0) })
    // the same last use for all, so only class and priority decide
    await useAt(t, [[free, T0], [p5, T0], [pm1, T0], [p0, T0]])
    await h.reopen(EVICT_ALL)
    const report = await h.trove.gc({ dryRun: true })
    const order = report.blobs.map((b) => b.sha1).filter((s) => [free, p5, pm1, p0].includes(s))
    assert.deepEqual(order, [free, pm1, p0, p5])
    assert.equal(report.blobs.find((b) => b.sha1 === pm1)?.priority, -1)
    assert.deepEqual(report.blobs.find((b) => b.sha1 === p0)?.heldBy, ['order/p0'])
    for (const key of ['order/p5', 'order/pm1', 'order/p0']) await h.trove.rmRef(key)
    await h.reopen({})
    await h.trove.gc()
  })

  it('least recently used first within a priority, and reads move a blob back', async () => {
    const t = h.trove
    const [a, b, c] = [await addBlob(t, 100), await addBlob(t, 100), await addBlob(t, 100)]
    await t.setRef('lru/all', { a: uri(a), b: uri(b), c: uri(c) }, { priority: 3 })
    await useAt(t, [[a, T0 + 3 * HOUR], [b, T0 + 1 * HOUR], [c, T0 + 2 * HOUR]])
    await h.reopen(EVICT_ALL)
    let report = await h.trove.gc({ dryRun: true })
    assert.deepEqual(report.blobs.map((x) => x.sha1), [b, c, a])
    // reads are tracked in memory (no write per read)...
    await h.trove.store.readBytes(b)
    assert.ok(h.trove.space.pendingUse(b) !== undefined)
    // ...and a use not flushed yet already counts: b becomes the most recently used
    h.trove.space.touch(b, T0 + 4 * HOUR)
    report = await h.trove.gc({ dryRun: true })
    assert.deepEqual(report.blobs.map((x) => x.sha1), [c, a, b])
    await h.trove.rmRef('lru/all')
    await h.reopen({})
    await h.trove.gc()
  })

  it('a blob shared with a higher-priority ref keeps that priority', async () => {
    const t = h.trove
    const [shared, lowOnly] = [await addBlob(t, 100), await addBlob(t, 100)]
    await t.setRef('share/low', { s: uri(shared), l: uri(lowOnly) }, { priority: 1 })
    await t.setRef('share/high', { s: uri(shared) }, { priority: 9 })
    // shared is the older one: LRU alone would evict it first
    await useAt(t, [[shared, T0], [lowOnly, T0 + HOUR]])
    await h.reopen(EVICT_ALL)
    const report = await h.trove.gc({ dryRun: true })
    assert.deepEqual(report.blobs.map((x) => [x.sha1, x.priority]), [[lowOnly, 1], [shared, 9]])
    // dropping the high ref brings it down to the low one's priority
    await h.trove.rmRef('share/high')
    const again = await h.trove.gc({ dryRun: true })
    assert.deepEqual(again.blobs.map((x) => [x.sha1, x.priority]), [[shared, 1], [lowOnly, 1]])
    await h.trove.rmRef('share/low')
    await h.reopen({})
    await h.trove.gc()
  })

  it('among equal candidates, blobs peers also hold go first', async () => {
    const t = h.trove
    const [a, b] = [await addBlob(t, 100), await addBlob(t, 100)]
    await useAt(t, [[a, T0], [b, T0 + 1000]])
    t.space.setReplicaSource({ replicas: (s) => s === b ? 2 : 0 })
    const report = await t.gc({ dryRun: true })
    assert.deepEqual(report.blobs.map((x) => x.sha1), [b, a])
    assert.equal(report.blobs[0].replicas, 2)
    t.space.setReplicaSource(undefined)
    await t.gc()
  })
})

describe('space planner: what never goes', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('pinned blobs and blobs of pinned refs stay even when the limit asks for everything', async () => {
    const t = h.trove
    const [pinned, byPinnedRef, plain] = [await addBlob(t, 5000), await addBlob(t, 5000), await addBlob(t, 5000)]
    await t.pin(uri(pinned))
    await t.setRef('keep/this', { f: uri(byPinnedRef) }, { pin: true })
    await settle(t)
    await h.reopen({ maxSize: 1000, lowWatermark: 0.1, highWatermark: 0.5, hardLimit: '1GB' })
    const report = await h.trove.gc()
    assert.deepEqual(report.blobs.map((b) => b.sha1), [plain])
    assert.equal(report.satisfied, false)
    assert.match(report.blocked ?? '', /protected/)
    assert.ok(await h.trove.store.has(pinned))
    assert.ok(await h.trove.store.has(byPinnedRef))
    const status = await h.trove.status() as unknown as { space: { overLimit?: unknown, classes: { pinned: { bytes: number } } } }
    assert.ok(status.space.overLimit !== undefined)
    assert.equal(status.space.classes.pinned.bytes, 10000)
    await h.trove.unpin(uri(pinned))
    await h.trove.rmRef('keep/this')
    await h.reopen({})
    await h.trove.gc()
  })

  it('blobs reachable from a held JSON blob stay, transitively, at the holder\'s priority', async () => {
    const t = h.trove
    const leaf = await addBlob(t, 300)
    const inner = await addBlob(t, JSON.stringify({ result: uri(leaf) }))
    const outer = await addBlob(t, JSON.stringify({ parts: [uri(inner)], note: 'sha1://not-a-hash' }))
    await t.setRef('json/top', { doc: uri(outer) }, { priority: 4 })
    await settle(t)
    let report = await t.gc()
    assert.equal(report.evicted.blobs, 0)
    const why = await t.why(uri(leaf))
    assert.equal(why.kept, true)
    assert.equal(why.priority, 4)
    assert.deepEqual(why.reasons.map((r) => [r.kind, r.key, r.via]), [['link', 'json/top', [inner, outer]]])
    // pinning the top ref protects the whole tree
    await t.setRef('json/top', { doc: uri(outer) }, { pin: true })
    await settle(t)
    assert.equal((await t.db.spaceState.get(leaf))?.c, 'p')
    // removing the ref releases all three; the JSON blobs' links go with them
    await t.rmRef('json/top')
    report = await t.gc()
    assert.deepEqual(new Set(report.blobs.map((b) => b.sha1)), new Set([leaf, inner, outer]))
    assert.equal((await t.db.spaceLinks.keys().all()).length, 0)
  })

  it('a ref to a JSON blob keeps what it references after the JSON blob itself was evicted', async () => {
    const t = h.trove
    const leaf = await addBlob(t, 300)
    const doc = await addBlob(t, JSON.stringify([uri(leaf)]))
    await t.setRef('json/evicted', { doc: uri(doc) }, { priority: 0 })
    await useAt(t, [[doc, T0], [leaf, T0 + HOUR]])
    await settle(t)
    // the least recently used blob the ref holds goes first: the JSON blob, not what it references
    const deleted = await t.space.gc({ freeBytes: 1 })
    assert.equal(deleted.evicted.blobs, 1)
    assert.deepEqual(deleted.blobs.map((b) => b.sha1), [doc])
    await t.setRef('json/evicted', { doc: uri(doc) }, { priority: 7 })
    await settle(t)
    assert.deepEqual(await t.db.spaceState.get(leaf).then((s) => [s?.c, s?.p]), ['r', 7])
    await t.rmRef('json/evicted')
    await t.gc()
    assert.equal(await t.store.has(leaf), false)
  })

  it('the grace period keeps a fresh unreferenced blob until a ref can be set', async () => {
    await h.reopen({ gracePeriodMs: 3_600_000 })
    const t = h.trove
    const fresh = await addBlob(t, 400)
    const report = await t.gc()
    assert.equal(report.evicted.blobs, 0)
    assert.equal(report.skipped.grace.blobs, 1)
    const why = await t.why(uri(fresh))
    assert.equal(why.kept, false)
    assert.ok(why.space?.graceUntil !== undefined && why.space.evictable === false)
    await t.setRef('grace/now-held', { f: uri(fresh) })
    await h.reopen({ gracePeriodMs: 0 })
    assert.equal((await h.trove.gc()).evicted.blobs, 0)
    await h.trove.rmRef('grace/now-held')
    assert.equal((await h.trove.gc()).evicted.blobs, 1)
  })

  it('storing existing content again restarts its grace period', async () => {
    const t = h.trove
    const bytes = Buffer.from('stored twice')
    const sha1 = (await t.store.putBytes(bytes)).sha1
    await useAt(t, [[sha1, T0]])
    await h.reopen({ gracePeriodMs: 3_600_000 })
    await h.trove.store.putBytes(bytes)
    assert.equal((await h.trove.gc()).evicted.blobs, 0)
    await h.reopen({ gracePeriodMs: 0 })
    assert.equal((await h.trove.gc()).evicted.blobs, 1)
  })

  it('minCopies keeps a ref\'s only copy until peers are known to hold enough', async () => {
    const t = h.trove
    const only = await addBlob(t, 200)
    await t.setRef('copies/two', { f: uri(only) }, { minCopies: 2 })
    await h.reopen({ maxSize: 100, lowWatermark: 0.1, highWatermark: 0.5, hardLimit: '1GB' })
    let report = await h.trove.gc()
    assert.equal(report.evicted.blobs, 0)
    assert.equal(report.skipped.minCopies.blobs, 1)
    h.trove.space.setReplicaSource({ replicas: () => 1 })
    assert.equal((await h.trove.gc()).evicted.blobs, 0)
    h.trove.space.setReplicaSource({ replicas: () => 2 })
    report = await h.trove.gc()
    assert.deepEqual(report.blobs.map((b) => b.sha1), [only])
    await h.trove.rmRef('copies/two')
    await h.reopen({})
  })
})
