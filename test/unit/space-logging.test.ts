import assert from 'node:assert/strict'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { ensureDataDir, layout } from '../../src/datadir.js'
import { openDb, type TroveDb } from '../../src/db.js'
import { memoryLogger } from '../../src/logger.js'
import { RefStore } from '../../src/refs/ref-store.js'
import { SpaceManager } from '../../src/space/space-manager.js'
import { BlobStore } from '../../src/store/blob-store.js'
import { tempDir } from '../helpers/tmp.js'

/** Waits (polling) until `check` holds; fails after a generous deadline, never asserts on timing. */
async function until (check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe('space: background failures are logged, not swallowed', () => {
  const logger = memoryLogger('debug')
  const notices: string[] = []
  let cleanup: () => Promise<void>
  let db: TroveDb
  let store: BlobStore
  let refs: RefStore
  let space: SpaceManager

  before(async () => {
    const tmp = await tempDir('trove-space-log-')
    const dir = path.join(tmp.dir, 'data')
    await ensureDataDir(dir, { create: true })
    const l = layout(dir)
    db = await openDb(l.db, l.owner)
    store = new BlobStore({ db, layout: l }, { durable: false })
    refs = new RefStore({ db })
    await store.open()
    space = new SpaceManager({ db, store, refs, layout: l, logger }, { limits: { gracePeriodMs: 0 }, log: (line) => { notices.push(line) } })
    await space.open()
    cleanup = async () => {
      await space.close()
      await refs.close()
      await store.close()
      await db.close()
      await tmp.cleanup()
    }
  })
  after(async () => { await cleanup() })

  it('a failed reclassification is logged at warn, and the blob is classified once it works again', async () => {
    const statMany = store.statMany.bind(store)
    store.statMany = async () => { throw new Error('index unreadable') }
    try {
      await store.putBytes(Buffer.from('not classified yet'))
      await until(() => logger.records.some((r) => r.message === 'reclassify failed'), 'the reclassify failure to be logged')
    } finally {
      store.statMany = statMany
    }
    const record = logger.records.find((r) => r.message === 'reclassify failed')
    assert.equal(record?.level, 'warn')
    assert.equal(record?.component, 'space')
    assert.equal((record?.details[0] as Error).message, 'index unreadable')
    await space.drain()
    assert.equal((await space.status()).classes.pending.blobs, 0)
  })

  it('a failed background run is logged at warn; the user-facing over-limit line still goes to init.log', async () => {
    const failed = (): boolean => logger.records.some((r) => r.message === 'watermark run failed' && (r.details[0] as Error).message === 'refs unwritable')
    const flush = refs.flushAccess.bind(refs)
    refs.flushAccess = async () => { throw new Error('refs unwritable') }
    try {
      // the database alone is above this: a background run is due at once, and its sweep fails
      space.configure({ maxSize: 100, highWatermark: 0.9, lowWatermark: 0.5, hardLimit: '1GB' })
      await until(failed, 'the run failure to be logged')
      assert.deepEqual(notices, [])
    } finally {
      refs.flushAccess = flush
    }
    assert.equal(logger.records.find((r) => r.message === 'watermark run failed')?.level, 'warn')
    // with only pinned content left over the limit, a run cannot get under it: the user is told
    await refs.pin((await store.putBytes(Buffer.alloc(300, 2))).sha1)
    const report = await space.gc()
    assert.equal(report.satisfied, false)
    assert.match(notices[notices.length - 1], /^space: limit exceeded by .* and nothing evictable is left; only protected content is left/)
  })
})
