import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTrove } from '../../src/node.js'
import { addBlob, openSpaceTrove, settle, uri, type SpaceTrove } from '../helpers/space.js'
import { tempDir } from '../helpers/tmp.js'

/** Every space-dirty record: key -> listed blobs (a legacy record lists its own key). */
async function records (h: SpaceTrove): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for await (const [k, v] of h.trove.db.spaceDirty.iterator()) out.set(k, Array.isArray(v) ? v as string[] : [k])
  return out
}

describe('space dirty marks', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('a burst of ref sets is marked in few records (one per batch), all deleted once reclassified', async () => {
    const t = h.trove
    const blobs: string[] = []
    for (let i = 0; i < 20; i++) blobs.push(await addBlob(t, `marks ${i}`))
    await settle(t)
    assert.equal((await records(h)).size, 0)
    // reclassification waits behind this, so the records can be read before any is settled
    const seen = await t.space.exclusive(async () => {
      await Promise.all(blobs.map(async (s, i) => t.setRef(`marks/r${i}`, { f: uri(s) }, { priority: 3 })))
      return records(h)
    })
    const listed = new Set([...seen.values()].flat())
    for (const s of blobs) assert.ok(listed.has(s), `blob ${s} is marked in a record`)
    assert.ok(seen.size < blobs.length, `${seen.size} records for ${blobs.length} concurrent sets`)
    await settle(t)
    assert.equal((await records(h)).size, 0, 'no record is left once every mark is settled')
    for (const s of blobs) assert.equal((await t.db.spaceState.get(s) as { c: string }).c, 'r')
  })

  it('a blob marked again before it was reclassified keeps a record until the newest mark is settled', async () => {
    const t = h.trove
    const s = await addBlob(t, 'marked twice')
    await settle(t)
    await t.space.exclusive(async () => {
      await t.setRef('twice/a', { f: uri(s) })
      await t.setRef('twice/a', { g: 'no blob' })
      await t.setRef('twice/b', { f: uri(s) }, { priority: 7 })
      const listed = [...(await records(h)).values()].flat()
      assert.ok(listed.includes(s))
    })
    await settle(t)
    assert.equal((await records(h)).size, 0)
    assert.deepEqual(await t.db.spaceState.get(s), { ...(await t.db.spaceState.get(s) as object), c: 'r', p: 7 })
  })

  it('marks survive a crash: a copy of the data directory taken before reclassification classifies the blob at open', async () => {
    const t = h.trove
    const s = await addBlob(t, 'crash-safe mark')
    await settle(t)
    assert.equal((await t.db.spaceState.get(s) as { c: string }).c, 'u')
    const copy = await tempDir('trove-marks-copy-')
    try {
      await t.space.exclusive(async () => {
        await t.setRef('crash/ref', { f: uri(s) }, { priority: 2 })
        // what a killed process leaves: the ref and its record written, the blob not yet reclassified
        await fs.cp(h.dataDir, path.join(copy.dir, 'data'), { recursive: true })
      })
      await fs.rm(path.join(copy.dir, 'data', 'db', 'LOCK'), { force: true })
      const reopened = await createTrove({ dataDir: path.join(copy.dir, 'data'), durable: false, space: { gracePeriodMs: 0 } })
      try {
        await reopened.space.drain()
        assert.equal((await reopened.db.spaceState.get(s) as { c: string, p: number }).c, 'r')
        assert.equal((await reopened.db.spaceState.get(s) as { c: string, p: number }).p, 2)
        const left = []
        for await (const kv of reopened.db.spaceDirty.iterator()) left.push(kv)
        assert.deepEqual(left, [], 'the reloaded records are deleted once settled')
      } finally {
        await reopened.close()
      }
    } finally {
      await copy.cleanup()
    }
  })

  it('reads the one-key-per-blob records of earlier versions', async () => {
    const t = h.trove
    const s = await addBlob(t, 'legacy mark')
    await t.setRef('legacy/ref', { f: uri(s) }, { priority: 4 })
    await settle(t)
    const dataDir = h.dataDir
    // an older version left this record for a blob
    await t.db.spaceDirty.put(s, Date.now() * 1000)
    const reopened = await h.reopen({ gracePeriodMs: 0 })
    await settle(reopened)
    assert.equal((await reopened.db.spaceState.get(s) as { c: string }).c, 'r')
    assert.equal((await records(h)).size, 0)
    assert.equal(h.dataDir, dataDir)
  })
})
