import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openDb, type BatchOp, type ObservedBatch, type ObservedOp, type TroveDb } from '../../src/db.js'
import { tempDir } from '../helpers/tmp.js'

const A = 'a'.repeat(40)
const B = 'b'.repeat(40)

/** An operation abstract-level refuses while the batch is issued: the batch fails with nothing written. */
const INVALID = (db: TroveDb): BatchOp => ({ type: 'nope', sublevel: db.meta, key: 'x' }) as unknown as BatchOp

describe('db.observe', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let db: TroveDb
  before(async () => {
    tmp = await tempDir('trove-observe-')
    db = await openDb(path.join(tmp.dir, 'db'), path.join(tmp.dir, 'owner.json'))
  })
  after(async () => {
    await db.close()
    await tmp.cleanup()
  })

  /** Registers an observer recording each call; `react` may add to the batch. */
  function record (tables: ObservedOp['table'][], react?: (ops: ObservedOp[], batch: ObservedBatch) => void): { calls: ObservedOp[][], stop: () => void } {
    const calls: ObservedOp[][] = []
    const stop = db.observe({
      tables,
      prewrite: (ops, batch) => {
        calls.push(ops)
        react?.(ops, batch)
      }
    })
    return { calls, stop }
  }

  it('sees each write to its tables, one operation per call, typed, however it was issued', async () => {
    const { calls, stop } = record(['blobs', 'pins'])
    try {
      await db.batch([
        { type: 'put', sublevel: db.blobs, key: A, value: { size: 1, addedAt: 2 } },
        { type: 'put', sublevel: db.meta, key: 'usage', value: { bytes: 1, blobs: 1 } },
        { type: 'del', sublevel: db.pins, key: B, holdsUnchanged: true }
      ])
      // a sublevel's own writes reach the database prefixed and encoded: the observer sees them decoded
      await db.pins.put(A, { pinnedAt: 'then' })
      await db.pins.del(A)
      await db.level.batch([{ type: 'del', sublevel: db.blobs, key: A }])
    } finally {
      stop()
    }
    assert.deepEqual(calls, [
      [{ table: 'blobs', type: 'put', key: A, value: { size: 1, addedAt: 2 } }],
      [{ table: 'pins', type: 'del', key: B, holdsUnchanged: true }],
      [{ table: 'pins', type: 'put', key: A, value: { pinnedAt: 'then' } }],
      [{ table: 'pins', type: 'del', key: A }],
      [{ table: 'blobs', type: 'del', key: A }]
    ])
  })

  it('sees a batch written whole in one call', async () => {
    const { calls, stop } = record(['edges', 'refs'])
    try {
      await db.batch([
        { type: 'put', sublevel: db.edges, key: `${A}\x00k`, value: { priority: 1, pin: false } },
        { type: 'put', sublevel: db.versions, key: 'k\x000000000001', value: { version: 1, obj: null, meta: {}, setAt: 'now' } },
        { type: 'del', sublevel: db.edges, key: `${B}\x00k` }
      ], { whole: true })
    } finally {
      stop()
    }
    assert.deepEqual(calls, [[
      { table: 'edges', type: 'put', key: `${A}\x00k`, value: { priority: 1, pin: false } },
      { table: 'edges', type: 'del', key: `${B}\x00k` }
    ]])
  })

  for (const whole of [false, true]) {
    const how = whole ? 'a whole batch' : 'a plain batch'
    it(`what an observer adds commits with ${how}, after which onWritten runs; a failed batch writes neither`, async () => {
      const written: string[] = []
      const { calls, stop } = record(['blobs', 'spaceMeta'], (ops, batch) => {
        for (const op of ops) {
          batch.add({ type: 'put', sublevel: db.spaceMeta, key: `seen!${op.key}`, value: 1 })
          batch.onWritten(() => { written.push(op.key) })
        }
      })
      try {
        await db.batch([{ type: 'put', sublevel: db.blobs, key: A, value: { size: 3, addedAt: 4 } }], { whole })
        // run by the time the batch is written, not later
        assert.deepEqual(written, [A])
        assert.equal(await db.spaceMeta.get(`seen!${A}`), 1)
        await assert.rejects(db.batch([{ type: 'put', sublevel: db.blobs, key: B, value: { size: 3, addedAt: 4 } }, INVALID(db)], { whole }))
        assert.equal(await db.blobs.get(B), undefined)
        assert.equal(await db.spaceMeta.get(`seen!${B}`), undefined)
        assert.deepEqual(written, [A])
      } finally {
        stop()
        await db.batch([{ type: 'del', sublevel: db.blobs, key: A }, { type: 'del', sublevel: db.spaceMeta, key: `seen!${A}` }])
      }
      // its own additions (to a table it watches) are not shown to it
      assert.ok(calls.flat().every((op) => op.table === 'blobs'), JSON.stringify(calls))
    })
  }

  it('each observer sees only its tables; unobserve stops it and leaves no hook behind', async () => {
    const blobs = record(['blobs'])
    const pins = record(['pins'])
    await db.batch([
      { type: 'put', sublevel: db.blobs, key: A, value: { size: 1, addedAt: 1 } },
      { type: 'put', sublevel: db.pins, key: A, value: { pinnedAt: 'now' } }
    ], { whole: true })
    blobs.stop()
    await db.pins.del(A)
    await db.blobs.del(A)
    pins.stop()
    // stopping twice is harmless
    pins.stop()
    await db.pins.put(B, { pinnedAt: 'later' })
    assert.deepEqual(blobs.calls, [[{ table: 'blobs', type: 'put', key: A, value: { size: 1, addedAt: 1 } }]])
    assert.deepEqual(pins.calls, [[{ table: 'pins', type: 'put', key: A, value: { pinnedAt: 'now' } }], [{ table: 'pins', type: 'del', key: A }]])
    assert.equal((db.level.hooks.prewrite as unknown as { noop: boolean }).noop, true)
    assert.equal(db.level.listenerCount('write'), 0)
  })
})
