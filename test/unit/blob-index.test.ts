import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { layout, type DataDirLayout } from '../../src/datadir.js'
import { openDb, type BatchOp, type TroveDb } from '../../src/db.js'
import { memoryLogger } from '../../src/logger.js'
import { BlobIndex } from '../../src/store/blob-index.js'
import { PackFiles, type PackFilesInit } from '../../src/store/packs.js'
import { ShardedPaths } from '../../src/store/paths.js'
import { SmallFileIo } from '../../src/store/small-io.js'
import { until } from '../helpers/packs.js'
import { tempDir } from '../helpers/tmp.js'
import { fakeSha1, sha1Of } from '../helpers/trove.js'

const RECORD_HEADER_BYTES = 24

interface Rig {
  dir: DataDirLayout
  db: TroveDb
  packs: PackFiles
  paths: ShardedPaths
  index: BlobIndex
  logger: ReturnType<typeof memoryLogger>
  /** Each batch written, as `<table> <put|del>` per operation. */
  batches: string[][]
  cleanup: () => Promise<void>
}

/** A BlobIndex over its own database, pack files, paths, small-file I/O and a memory logger. */
async function openIndex (packsInit: Omit<PackFilesInit, 'durable'> = {}): Promise<Rig> {
  const tmp = await tempDir('trove-index-')
  const dir = layout(tmp.dir)
  const real = await openDb(dir.db, dir.owner)
  const batches: string[][] = []
  const tables = new Map<unknown, string>([[real.blobs, 'blobs'], [real.packs, 'packs'], [real.meta, 'meta']])
  // the database as the index and the packs see it, with each batch recorded
  const db: TroveDb = {
    ...real,
    batch: async (ops: BatchOp[]) => {
      batches.push(ops.map((op) => `${tables.get(op.sublevel) ?? 'other'} ${op.type}`))
      return real.batch(ops)
    }
  }
  const logger = memoryLogger()
  const packs = new PackFiles({ db, dir: dir.packs, logger }, { durable: false, retireGraceMs: 0, ...packsInit })
  const paths = new ShardedPaths(dir.blobs)
  const index = new BlobIndex({ db, packs, paths, io: new SmallFileIo(), logger }, { durable: false })
  await fs.mkdir(dir.tmp, { recursive: true })
  await index.open()
  return {
    dir,
    db,
    packs,
    paths,
    index,
    logger,
    batches,
    cleanup: async () => {
      await index.close()
      await db.close()
      await tmp.cleanup()
    }
  }
}

/** A finished temp file holding `bytes`, as ingest leaves one. */
async function tempFile (r: Rig, bytes: Uint8Array): Promise<string> {
  const file = path.join(r.dir.tmp, `${sha1Of(bytes)}-${randomBytes(4).toString('hex')}.part`)
  await fs.writeFile(file, bytes)
  return file
}

const exists = async (file: string): Promise<boolean> => fs.stat(file).then(() => true, () => false)

describe('BlobIndex', () => {
  let r: Rig
  beforeEach(async () => { r = await openIndex() })
  afterEach(async () => { await r.cleanup() })

  describe('commit', () => {
    it('moves a temp file into place or appends bytes to a pack, indexes each and counts them', async () => {
      const loose = randomBytes(3000)
      const packed = randomBytes(500)
      const tmp = await tempFile(r, loose)
      const [a, b] = await Promise.all([
        r.index.commit({ tmp }, sha1Of(loose), loose.length),
        r.index.commit({ bytes: packed }, sha1Of(packed), packed.length)
      ])
      assert.equal(a?.place, 'file')
      assert.deepEqual(await fs.readFile(r.paths.pathOf(sha1Of(loose))), loose)
      assert.equal(await exists(tmp), false)
      assert.ok(b !== undefined && b.place !== 'file')
      assert.deepEqual(b.place, { pack: 1, at: RECORD_HEADER_BYTES })
      assert.deepEqual(await r.index.stat(sha1Of(packed)), b)
      assert.deepEqual(r.index.getUsage(), { bytes: 3500, blobs: 2 })
      assert.deepEqual(await r.db.meta.get('usage'), { bytes: 3500, blobs: 2 })
      // each entry is written with the counters (and a packed one with its pack's state)
      const expected = ['blobs put', 'blobs put', 'packs put', ...r.batches.map(() => 'meta put')]
      assert.deepEqual(r.batches.flat().sort(), expected.sort())
      for (const ops of r.batches) assert.ok(ops.includes('meta put'))
    })

    it('a blob stored already is not indexed again: undefined, and its temp file removed', async () => {
      const bytes = randomBytes(2000)
      assert.ok(await r.index.commit({ tmp: await tempFile(r, bytes) }, sha1Of(bytes), bytes.length) !== undefined)
      const again = await tempFile(r, bytes)
      assert.equal(await r.index.commit({ tmp: again }, sha1Of(bytes), bytes.length), undefined)
      assert.equal(await exists(again), false)
      // the same content twice in one batch: one entry
      const small = randomBytes(100)
      const both = await Promise.all([r.index.commit({ bytes: small }, sha1Of(small), 100), r.index.commit({ bytes: small }, sha1Of(small), 100)])
      assert.equal(both.filter((i) => i !== undefined).length, 1)
      assert.deepEqual(r.index.getUsage(), { bytes: 2100, blobs: 2 })
    })

    it('a temp file that cannot be moved fails its own commit only', async () => {
      const good = randomBytes(100)
      const [gone, ok] = await Promise.allSettled([
        r.index.commit({ tmp: path.join(r.dir.tmp, 'missing.part') }, fakeSha1(1), 10),
        r.index.commit({ bytes: good }, sha1Of(good), 100)
      ])
      assert.equal(gone.status, 'rejected')
      assert.equal(ok.status, 'fulfilled')
      assert.equal(await r.index.stat(fakeSha1(1)), undefined)
      assert.deepEqual(r.index.getUsage(), { bytes: 100, blobs: 1 })
    })
  })

  describe('usage', () => {
    it('is a copy, survives reopen and lists every blob', async () => {
      const blobs = [randomBytes(10), randomBytes(20), randomBytes(30)]
      for (const b of blobs) await r.index.commit({ bytes: b }, sha1Of(b), b.length)
      const usage = r.index.getUsage()
      usage.bytes = 0
      assert.deepEqual(r.index.getUsage(), { bytes: 60, blobs: 3 })
      const listed = []
      for await (const info of r.index.list()) listed.push(info.sha1)
      assert.deepEqual(listed, blobs.map(sha1Of).sort())
      let scanned = 0
      for await (const block of r.index.scanEntries()) scanned += block.length
      assert.equal(scanned, 3)
      const again = new BlobIndex({ db: r.db, packs: new PackFiles({ db: r.db, dir: r.dir.packs }), paths: r.paths, io: new SmallFileIo(), logger: r.logger })
      await again.open()
      assert.deepEqual(again.getUsage(), { bytes: 60, blobs: 3 })
    })
  })

  describe('deleteMany', () => {
    it('drops entries, counters and pack live bytes in one batch with the caller\'s ops, then removes files', async () => {
      const loose = randomBytes(3000)
      const packed = [randomBytes(400), randomBytes(600)]
      await r.index.commit({ tmp: await tempFile(r, loose) }, sha1Of(loose), loose.length)
      for (const b of packed) await r.index.commit({ bytes: b }, sha1Of(b), b.length)
      r.batches.length = 0
      const result = await r.index.deleteMany([sha1Of(loose), sha1Of(packed[0]), sha1Of(packed[1]), fakeSha1(9)], {
        keep: (sha1) => sha1 === sha1Of(packed[1]),
        extraOps: (deleted) => [{ type: 'put', sublevel: r.db.meta, key: 'test-deleted', value: deleted.length }]
      })
      assert.deepEqual(result.deleted.map((d) => d.sha1).sort(), [sha1Of(loose), sha1Of(packed[0])].sort())
      assert.deepEqual(result.errors, [])
      assert.equal(r.batches.length, 1)
      assert.deepEqual([...r.batches[0]].sort(), ['blobs del', 'blobs del', 'meta put', 'meta put', 'packs put'])
      assert.equal(await r.db.meta.get('test-deleted'), 2)
      assert.deepEqual(r.index.getUsage(), { bytes: 600, blobs: 1 })
      assert.equal(await exists(r.paths.pathOf(sha1Of(loose))), false)
      assert.equal((await r.db.packs.get('1'))?.live, RECORD_HEADER_BYTES + 600)
      assert.ok(await r.index.stat(sha1Of(packed[1])) !== undefined)
    })

    it('nothing to delete writes nothing', async () => {
      assert.deepEqual(await r.index.deleteMany([fakeSha1(1)]), { deleted: [], errors: [] })
      assert.deepEqual(r.batches, [])
    })

    it('a compaction that fails in the background is logged at warn, not thrown', async () => {
      await r.cleanup()
      // three small packs: the first, mostly deleted, is compactable (the newest never is)
      r = await openIndex({ targetBytes: 2000 })
      const blobs = Array.from({ length: 9 }, () => randomBytes(500))
      for (const b of blobs) await r.index.commit({ bytes: b }, sha1Of(b), b.length)
      assert.ok(r.packs.list().length >= 3)
      r.packs.compact = async (id) => { throw new Error(`compaction of ${id} broke`) }
      await r.index.deleteMany(blobs.slice(0, 2).map(sha1Of))
      await until(() => r.logger.records.some((rec) => rec.level === 'warn'), 'the failed compaction to be logged')
      const record = r.logger.records.find((rec) => rec.level === 'warn')
      assert.equal(record?.component, 'store')
      assert.match(record?.message ?? '', /compacting a pack failed/)
      assert.equal((record?.details[0] as Error).message, 'compaction of 1 broke')
      // the index goes on
      assert.deepEqual(r.index.getUsage(), { bytes: 7 * 500, blobs: 7 })
    })
  })

  describe('removeOrphanFiles', () => {
    it('removes files the index does not keep as files, keeps indexed files', async () => {
      const kept = randomBytes(100)
      await r.index.commit({ tmp: await tempFile(r, kept) }, sha1Of(kept), kept.length)
      const orphan = fakeSha1(3)
      await fs.mkdir(path.dirname(r.paths.pathOf(orphan)), { recursive: true })
      await fs.writeFile(r.paths.pathOf(orphan), 'left by a killed run')
      await r.index.removeOrphanFiles([sha1Of(kept), orphan])
      assert.equal(await exists(r.paths.pathOf(orphan)), false)
      assert.equal(await exists(r.paths.pathOf(sha1Of(kept))), true)
    })
  })

  describe('repair', () => {
    it('writes what verify staged in one batch: entries dropped and set, pack live bytes, counters', async () => {
      const blobs = [randomBytes(100), randomBytes(200), randomBytes(300)]
      for (const b of blobs) await r.index.commit({ bytes: b }, sha1Of(b), b.length)
      r.batches.length = 0
      let seen = 0
      await r.index.repair(async (repair) => {
        assert.deepEqual(repair.usage(), { bytes: 600, blobs: 3 })
        for await (const [sha1, entry] of repair.entries()) {
          seen++
          if (sha1 === sha1Of(blobs[0])) repair.unindex(sha1)
          if (sha1 === sha1Of(blobs[1])) repair.reindex(sha1, { ...entry, size: 199 })
        }
        repair.reconcilePacks(new Map([[1, 2 * RECORD_HEADER_BYTES + 500]]))
        repair.setUsage({ bytes: 499, blobs: 2 })
        // nothing is written before the repair's function returns
        assert.deepEqual(r.batches, [])
      })
      assert.equal(seen, 3)
      assert.equal(r.batches.length, 1)
      // the entries' changes in the order they were made (sha1 order), then the packs', the counters last
      assert.deepEqual([...r.batches[0].slice(0, 2).sort(), ...r.batches[0].slice(2)], ['blobs del', 'blobs put', 'packs put', 'meta put'])
      assert.equal(await r.index.stat(sha1Of(blobs[0])), undefined)
      assert.equal((await r.index.stat(sha1Of(blobs[1])))?.size, 199)
      assert.deepEqual(r.index.getUsage(), { bytes: 499, blobs: 2 })
      assert.deepEqual(await r.db.meta.get('usage'), { bytes: 499, blobs: 2 })
      assert.equal((await r.db.packs.get('1'))?.live, 2 * RECORD_HEADER_BYTES + 500)
      assert.deepEqual(r.packs.list(), [[1, { size: 3 * RECORD_HEADER_BYTES + 600, live: 2 * RECORD_HEADER_BYTES + 500 }]])
    })

    it('runs alone: a commit asked for meanwhile waits for it; a repair that stages nothing writes nothing', async () => {
      const late = randomBytes(50)
      let committed: Promise<unknown> | undefined
      await r.index.repair(async (repair) => {
        committed = r.index.commit({ bytes: late }, sha1Of(late), late.length)
        await new Promise((resolve) => setTimeout(resolve, 20))
        assert.deepEqual(repair.usage(), { bytes: 0, blobs: 0 })
        assert.equal(await r.index.stat(sha1Of(late)), undefined)
      })
      assert.deepEqual(r.batches, [])
      await committed
      assert.deepEqual(r.index.getUsage(), { bytes: 50, blobs: 1 })
    })
  })
})
