import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BatchOp, Tables } from '../../src/db.js'
import { BatchedReader, BatchedWriter, MAX_READ_BATCH, MAX_WRITE_BATCH_OPS } from '../../src/refs/batching.js'
import { fakeSha1, openTempTrove, type TempTrove } from '../helpers/trove.js'

describe('ref store batching', () => {
  let t: TempTrove
  before(async () => { t = await openTempTrove() })
  after(async () => { await t.cleanup() })

  it('concurrent reads share getMany and each gets its own value, missing keys undefined', async () => {
    const sub = t.trove.db.refs
    const n = MAX_READ_BATCH * 2 + 3
    await t.trove.db.level.batch(Array.from({ length: n }, (_, i) => ({ type: 'put' as const, sublevel: sub, key: `b/r${i}`, value: { i } })))
    const reader = new BatchedReader(sub)
    const got = await Promise.all(Array.from({ length: n }, async (_, i) => reader.get(`b/r${i}`)))
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => ({ i })))
    assert.equal(await reader.get('b/none'), undefined)
  })

  it('a read issued after a write finished sees it', async () => {
    const reader = new BatchedReader(t.trove.db.refs)
    const writer = new BatchedWriter(t.trove.db)
    for (let i = 0; i < 20; i++) {
      // any value will do: batching does not look at it
      await writer.write([{ type: 'put', sublevel: t.trove.db.refs, key: 'b/rw', value: i as unknown as Tables['refs'] }])
      assert.equal(await reader.get('b/rw'), i)
    }
  })

  it('concurrent writes all land, including more operations than one batch holds', async () => {
    const writer = new BatchedWriter(t.trove.db)
    const sub = t.trove.db.meta
    const per = 7
    const callers = Math.ceil(MAX_WRITE_BATCH_OPS / per) * 2
    await Promise.all(Array.from({ length: callers }, async (_, c) => writer.write(
      Array.from({ length: per }, (_, j) => ({ type: 'put', sublevel: sub, key: `bw-${c}-${j}`, value: c * per + j }))
    )))
    const values = await sub.getMany(Array.from({ length: callers * per }, (_, k) => `bw-${Math.floor(k / per)}-${k % per}`))
    assert.deepEqual(values, Array.from({ length: callers * per }, (_, k) => k))
  })

  it('a caller whose operations are invalid fails alone; the others in its batch still land', async () => {
    const writer = new BatchedWriter(t.trove.db)
    const sub = t.trove.db.meta
    const results = await Promise.allSettled([
      writer.write([{ type: 'put', sublevel: sub, key: 'bw-ok-1', value: 1 }]),
      writer.write([{ type: 'put', sublevel: sub, key: 'bw-bad', value: 1 }, { type: 'nope', sublevel: sub, key: 'x' } as unknown as BatchOp]),
      writer.write([{ type: 'put', sublevel: sub, key: 'bw-ok-2', value: 2 }])
    ])
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
    assert.equal(await sub.get('bw-ok-1'), 1)
    assert.equal(await sub.get('bw-ok-2'), 2)
    assert.equal(await sub.get('bw-bad'), undefined)
  })

  it('concurrent sets of many keys keep refs, versions and edges consistent', async () => {
    const refs = t.trove.refs
    const keys = Array.from({ length: 50 }, (_, i) => `bc/k${i}`)
    await Promise.all(keys.flatMap((k, i) => [
      refs.set(k, { a: `sha1://${fakeSha1(i)}` }),
      refs.set(k, { a: `sha1://${fakeSha1(i + 100)}` })
    ]))
    for (const [i, k] of keys.entries()) {
      const rec = await refs.get(k)
      assert.equal(rec.version, 2)
      assert.deepEqual(rec.obj, { a: `sha1://${fakeSha1(i + 100)}` })
      assert.deepEqual((await refs.holders(fakeSha1(i))).map((h) => h.key), [])
      assert.deepEqual((await refs.holders(fakeSha1(i + 100))).map((h) => h.key), [k])
    }
  })
})
