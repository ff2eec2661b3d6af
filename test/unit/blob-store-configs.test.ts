import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { BlobStore, BlobStoreInit, PutResult } from '../../src/store/blob-store.js'
import { PACK_MAX_BYTES } from '../../src/store/constants.js'
import { ShardedPaths } from '../../src/store/paths.js'
import { openTempStore, type TempStore } from '../helpers/store.js'
import { collect, fakeSha1, sha1Of } from '../helpers/trove.js'

/**
 * One BlobStore suite run over several configurations (as js-stores' interface tests are): durable
 * or not, packs of the default size or small ones that roll over. Each case runs for a blob kept in
 * a pack (small, stored from memory) and one kept in a file of its own (streamed).
 */
const CONFIGS: Array<{ name: string, init: BlobStoreInit }> = [
  { name: 'not durable', init: { durable: false } },
  { name: 'durable', init: { durable: true } },
  { name: 'not durable, small packs', init: { durable: false, packs: { targetBytes: 8192, retireGraceMs: 0 } } },
  { name: 'durable, small packs', init: { durable: true, packs: { targetBytes: 8192, retireGraceMs: 0 } } }
]

const KINDS: Array<{ name: string, packed: boolean, put: (store: BlobStore, bytes: Buffer) => Promise<PutResult> }> = [
  { name: 'packed', packed: true, put: async (store, bytes) => store.putBytes(bytes) },
  { name: 'in a file', packed: false, put: async (store, bytes) => store.put([bytes.subarray(0, 100), bytes.subarray(100)]) }
]

for (const config of CONFIGS) {
  describe(`BlobStore (${config.name})`, () => {
    let s: TempStore
    beforeEach(async () => { s = await openTempStore(config.init) })
    afterEach(async () => { await s.cleanup() })

    for (const kind of KINDS) {
      describe(kind.name, () => {
        it('a put is stored where expected and reads back whole and in ranges', async () => {
          const bytes = randomBytes(3000)
          const r = await kind.put(s.store, bytes)
          assert.deepEqual(r, { sha1: sha1Of(bytes), size: 3000, added: true })
          assert.equal(await s.store.has(r.sha1), true)
          assert.equal((await s.store.stat(r.sha1))?.size, 3000)
          assert.equal((await s.store.locate(r.sha1))?.packed, kind.packed)
          assert.deepEqual(await s.store.readBytes(r.sha1), bytes)
          assert.deepEqual(await collect(await s.store.read(r.sha1)), bytes)
          assert.deepEqual(await s.store.readBytes(r.sha1, { offset: 1000, length: 24 }), bytes.subarray(1000, 1024))
          assert.deepEqual(await collect(await s.store.read(r.sha1, { offset: 2990 })), bytes.subarray(2990))
          assert.deepEqual(s.store.getUsage(), { bytes: 3000, blobs: 1 })
        })

        it('a stat is plain data: a copy of it, or a bare BlobInfo, reads the blob where it is', async () => {
          const bytes = randomBytes(2000)
          const { sha1 } = await kind.put(s.store, bytes)
          const info = await s.store.stat(sha1)
          assert.ok(info !== undefined)
          const copies = [{ ...info }, JSON.parse(JSON.stringify(info)), { sha1, size: info.size, addedAt: info.addedAt }]
          for (const copy of copies) {
            assert.deepEqual(await s.store.readBytes(sha1, { info: copy }), bytes)
            assert.deepEqual(await s.store.readBytes(sha1, { info: copy, offset: 10, length: 10 }), bytes.subarray(10, 20))
            assert.deepEqual(await collect(await s.store.read(sha1, { info: copy })), bytes)
          }
        })

        it('a repeated put is not added again and counts once', async () => {
          const bytes = randomBytes(1500)
          await kind.put(s.store, bytes)
          const again = await Promise.all([kind.put(s.store, bytes), kind.put(s.store, bytes)])
          assert.deepEqual(again.map((r) => r.added), [false, false])
          assert.deepEqual(s.store.getUsage(), { bytes: 1500, blobs: 1 })
        })

        it('a deleted blob is gone: not stored, not readable, not counted; a leased one stays', async () => {
          const [a, b] = [randomBytes(1000), randomBytes(1200)]
          await kind.put(s.store, a)
          await kind.put(s.store, b)
          const release = s.store.lease(sha1Of(b))
          const result = await s.store.deleteBatch([sha1Of(a), sha1Of(b), fakeSha1(1)])
          assert.deepEqual(result.deleted.map((d) => d.sha1), [sha1Of(a)])
          assert.deepEqual(result.errors, [])
          release()
          assert.equal(await s.store.has(sha1Of(a)), false)
          await assert.rejects(s.store.readBytes(sha1Of(a)), { name: 'BlobNotFoundError' })
          assert.deepEqual(s.store.getUsage(), { bytes: 1200, blobs: 1 })
          assert.equal((await s.store.deleteBatch([sha1Of(b)])).deleted.length, 1)
          assert.deepEqual(s.store.getUsage(), { bytes: 0, blobs: 0 })
        })

        it('many concurrent puts are all listed and counted, survive reopen and verify clean', async () => {
          const blobs = Array.from({ length: 40 }, (_, i) => randomBytes(200 + i * 50))
          await Promise.all(blobs.map(async (b) => kind.put(s.store, b)))
          const listed: string[] = []
          for await (const info of s.store.list()) listed.push(info.sha1)
          assert.deepEqual(listed, blobs.map(sha1Of).sort())
          const bytes = blobs.reduce((n, b) => n + b.length, 0)
          assert.deepEqual(s.store.getUsage(), { bytes, blobs: 40 })
          await s.reopen()
          assert.deepEqual(s.store.getUsage(), { bytes, blobs: 40 })
          for (const b of blobs) assert.deepEqual(await s.store.readBytes(sha1Of(b)), b)
          const report = await s.store.verify()
          assert.equal(report.ok, true, JSON.stringify(report))
          assert.equal(report.checked, 40)
        })
      })
    }

    it('bytes up to PACK_MAX_BYTES stored from memory go to a pack, larger ones to a file', async () => {
      const small = randomBytes(PACK_MAX_BYTES)
      const large = randomBytes(PACK_MAX_BYTES + 1)
      await s.store.putBytes(small)
      await s.store.putBytes(large)
      assert.equal((await s.store.locate(sha1Of(small)))?.packed, true)
      assert.equal((await s.store.locate(sha1Of(large)))?.packed, false)
      assert.equal((await s.store.locate(sha1Of(large)))?.path, new ShardedPaths(s.layout.blobs).pathOf(sha1Of(large)))
    })
  })
}

describe('ShardedPaths', () => {
  it('puts a blob under the folder of its first two hex digits and tells blob files from strays', () => {
    const paths = new ShardedPaths('/data/blobs')
    const sha1 = fakeSha1(1)
    const file = paths.pathOf(sha1)
    assert.equal(file, `/data/blobs/${sha1.slice(0, 2)}/${sha1}`)
    assert.equal(paths.decode(file), sha1)
    assert.equal(paths.decode(`/data/blobs/zz/${sha1}`), undefined, 'in another shard')
    assert.equal(paths.decode(`/data/blobs/${sha1.slice(0, 2)}/notes.txt`), undefined, 'not a blob name')
    assert.equal(paths.decode(`/data/blobs/${sha1}`), undefined, 'beside the shards')
    assert.equal(paths.decode(`/data/blobs/${sha1.slice(0, 2)}/${sha1.toUpperCase()}`), undefined, 'upper case')
  })
})
