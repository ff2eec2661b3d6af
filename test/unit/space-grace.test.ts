import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { addBlob, openSpaceTrove, settle, uri } from '../helpers/space.js'

const KIB = 1024
const MIB = 1024 * 1024

/** Stores fresh unreferenced blobs; those the hard limit refuses are returned as errors. */
async function addFresh (t: Awaited<ReturnType<typeof openSpaceTrove>>['trove'], n: number, size: number): Promise<{ added: string[], refused: Error[] }> {
  const added: string[] = []
  const refused: Error[] = []
  for (let i = 0; i < n; i++) {
    try {
      added.push(await addBlob(t, size))
    } catch (err) {
      refused.push(err as Error)
    }
  }
  return { added, refused }
}

// issue 13 item 2: eviction jumped over blobs in their grace period and took higher-ranked content
describe('space: a blob in its grace period is deferred, never jumped over', () => {
  it('fresh unreferenced adds do not get pinned-ref content or referenced blobs of priority 1 to 9 evicted', async () => {
    const h = await openSpaceTrove({ maxSize: 8 * MIB, gracePeriodMs: 60_000 })
    try {
      const t = h.trove
      const pinned = await addBlob(t, MIB)
      await t.setRef('lab/pinned', { f: uri(pinned) }, { pin: true })
      const held: string[] = []
      for (let p = 1; p <= 9; p++) {
        const sha1 = await addBlob(t, 512 * KIB)
        await t.setRef(`lab/p${p}`, { f: uri(sha1) }, { priority: p })
        held.push(sha1)
      }
      await settle(t)
      const { refused } = await addFresh(t, 8, 512 * KIB)
      const report = await t.gc()
      for (const sha1 of [pinned, ...held]) assert.equal(await t.store.has(sha1), true, `held blob ${sha1} was evicted while unreferenced blobs waited out their grace`)
      assert.equal(report.evicted.blobs, 0)
      assert.ok(refused.length > 0, 'a write that only higher-ranked content could make room for fails')
      for (const err of refused) {
        assert.equal((err as { code?: string }).code, 'STORAGE_FULL')
        assert.match(err.message, /grace period/)
      }
      assert.match(report.blocked ?? '', /grace period/)
    } finally {
      await h.cleanup()
    }
  })

  it('one fresh unreferenced blob gets neither a priority-9 nor a priority-5 blob evicted', async () => {
    const h = await openSpaceTrove({ maxSize: 4 * MIB, gracePeriodMs: 60_000 })
    try {
      const t = h.trove
      const p5 = await addBlob(t, MIB)
      await t.setRef('lab/five', { f: uri(p5) }, { priority: 5 })
      const p9 = await addBlob(t, MIB)
      await t.setRef('lab/nine', { f: uri(p9) }, { priority: 9 })
      await settle(t)
      await addFresh(t, 1, 1536 * KIB)
      await t.gc()
      assert.equal(await t.store.has(p9), true, 'the priority-9 blob was evicted')
      assert.equal(await t.store.has(p5), true, 'the priority-5 blob was evicted')
    } finally {
      await h.cleanup()
    }
  })

  it('runs again when the grace ends, and then evicts the unreferenced blob first', async () => {
    const h = await openSpaceTrove({ maxSize: 4 * MIB, gracePeriodMs: 1_500 })
    try {
      const t = h.trove
      const p1 = await addBlob(t, MIB)
      await t.setRef('lab/one', { f: uri(p1) }, { priority: 1 })
      await settle(t)
      const { added } = await addFresh(t, 1, 2816 * KIB)
      assert.equal(added.length, 1)
      // no gc call: the background run deferred by the grace must come back by itself
      const deadline = Date.now() + 30_000
      while (await t.store.has(added[0]) && Date.now() < deadline) await sleep(100)
      assert.equal(await t.store.has(added[0]), false, 'the unreferenced blob is evicted once its grace ends')
      assert.equal(await t.store.has(p1), true, 'the referenced blob stays')
    } finally {
      await h.cleanup()
    }
  })
})
