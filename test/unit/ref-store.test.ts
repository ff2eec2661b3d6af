import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MAX_KEY_LENGTH, MAX_REF_BYTES, MAX_SEGMENT_LENGTH } from '../../src/refs/constants.js'
import type { TroveDb } from '../../src/db.js'
import { memoryLogger } from '../../src/logger.js'
import { RefStore, type RefRecord } from '../../src/refs/ref-store.js'
import { fakeSha1, openTempTrove, type TempTrove } from '../helpers/trove.js'

const H = Array.from({ length: 6 }, (_, i) => fakeSha1(i))
const U = H.map((h) => `sha1://${h}`)

describe('RefStore', () => {
  let t: TempTrove
  let refs: RefStore
  before(async () => {
    t = await openTempTrove()
    refs = t.trove.refs
  })
  after(async () => { await t.cleanup() })

  async function dbCount (name: 'refs' | 'versions' | 'edges' | 'expiry'): Promise<number> {
    let n = 0
    for await (const _ of t.trove.db[name].keys()) n++
    return n
  }

  describe('set, get, versions, history, rm', () => {
    it('set writes version 1 and get reads it', async () => {
      const rec = await refs.set('lab/mouse7/sorting', { out: U[0] }, { priority: 2 }, { by: 'ann@ws' })
      assert.equal(rec.key, 'lab/mouse7/sorting')
      assert.equal(rec.version, 1)
      assert.deepEqual(rec.obj, { out: U[0] })
      assert.deepEqual(rec.meta, { priority: 2 })
      assert.equal(rec.by, 'ann@ws')
      assert.ok(!Number.isNaN(Date.parse(rec.setAt)))
      assert.deepEqual(await refs.get('lab/mouse7/sorting'), rec)
      assert.equal(await refs.has('lab/mouse7/sorting'), true)
    })

    it('every set is a new version; old versions stay readable', async () => {
      await refs.set('v/key', { n: 1 })
      await refs.set('v/key', { n: 2 })
      const third = await refs.set('v/key', { n: 3 }, { note: 'x' })
      assert.equal(third.version, 3)
      assert.deepEqual((await refs.get('v/key')).obj, { n: 3 })
      assert.deepEqual((await refs.get('v/key', { version: 1 })).obj, { n: 1 })
      assert.deepEqual((await refs.get('v/key', { version: 2 })).obj, { n: 2 })
      assert.deepEqual((await refs.get('v/key', { version: 3 })).meta, { note: 'x' })
      const history = await refs.history('v/key')
      assert.deepEqual(history.map((h) => [h.version, h.obj]), [[1, { n: 1 }], [2, { n: 2 }], [3, { n: 3 }]])
      assert.ok(history.every((h) => h.key === 'v/key' && h.deleted !== true))
    })

    it('rm keeps history, refuses the removed version, and a re-set continues numbering', async () => {
      await refs.set('r/k', { a: U[1] })
      await refs.set('r/k', { a: U[2] })
      const removed = await refs.rm('r/k', { by: 'bob@ws' })
      assert.deepEqual(removed, { key: 'r/k', version: 3 })
      assert.equal(await refs.has('r/k'), false)
      await assert.rejects(refs.get('r/k'), { name: 'RefNotFoundError', code: 'REF_NOT_FOUND' })
      await assert.rejects(refs.rm('r/k'), { name: 'RefNotFoundError' })
      const history = await refs.history('r/k')
      assert.deepEqual(history.map((h) => [h.version, h.deleted === true]), [[1, false], [2, false], [3, true]])
      assert.equal(history[2].by, 'bob@ws')
      await assert.rejects(refs.get('r/k', { version: 3 }), { name: 'VersionNotFoundError', code: 'VERSION_NOT_FOUND' })
      assert.deepEqual((await refs.get('r/k', { version: 1 })).obj, { a: U[1] })
      assert.deepEqual(await refs.holders(H[2]), [])
      const again = await refs.set('r/k', { a: U[3] })
      assert.equal(again.version, 4)
      assert.equal((await refs.history('r/k')).length, 4)
      assert.deepEqual((await refs.holders(H[3])).map((h) => h.key), ['r/k'])
    })

    it('unknown keys and versions fail with their own errors', async () => {
      await assert.rejects(refs.get('no/such/key'), { name: 'RefNotFoundError' })
      await assert.rejects(refs.get('no/such/key', { version: 1 }), { name: 'RefNotFoundError' })
      await assert.rejects(refs.history('no/such/key'), { name: 'RefNotFoundError' })
      await refs.set('one/version', 1)
      await assert.rejects(refs.get('one/version', { version: 2 }), { name: 'VersionNotFoundError' })
      for (const v of [0, -1, 1.5]) {
        await assert.rejects(refs.get('one/version', { version: v }), { name: 'InvalidArgumentError' })
      }
    })

    it('history of a key does not include keys that extend it', async () => {
      await refs.set('h/a', 1)
      await refs.set('h/a/b', 2)
      await refs.set('h/ab', 3)
      assert.deepEqual((await refs.history('h/a')).map((h) => h.obj), [1])
    })

    it('concurrent sets of one key get distinct consecutive versions', async () => {
      const recs = await Promise.all(Array.from({ length: 20 }, async (_, i) => refs.set('c/k', { i })))
      assert.deepEqual(recs.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1))
      assert.equal((await refs.history('c/k')).length, 20)
    })

    it('stores any JSON value as obj', async () => {
      for (const obj of [null, 0, 'text', true, [1, 'two', null], { deep: { er: [{}] } }]) {
        await refs.set('json/any', obj)
        assert.deepEqual((await refs.get('json/any')).obj, obj)
      }
    })

    it('stores obj in its JSON form, so what set returns is what get returns', async () => {
      const when = new Date('2026-01-02T03:04:05.000Z')
      const hidden = { toJSON: () => U[4] }
      const rec = await refs.set('json/form', { when, hidden, gone: undefined })
      assert.deepEqual(rec.obj, { when: when.toISOString(), hidden: U[4] })
      assert.deepEqual((await refs.get('json/form')).obj, rec.obj)
      assert.deepEqual((await refs.holders(H[4])).map((h) => h.key), ['json/form'])
    })

    it('refuses what is not JSON, writing nothing', async () => {
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      for (const obj of [undefined, () => 1, Symbol('s'), cyclic, { big: 1n }]) {
        await assert.rejects(refs.set('json/bad', obj), { name: 'InvalidJsonError', code: 'INVALID_JSON' })
      }
      assert.equal(await refs.has('json/bad'), false)
      await assert.rejects(refs.history('json/bad'), { name: 'RefNotFoundError' })
    })

    it('refuses a ref larger than MAX_REF_BYTES', async () => {
      await assert.rejects(refs.set('too/big', 'x'.repeat(MAX_REF_BYTES)), { name: 'InvalidArgumentError' })
      assert.equal(await refs.has('too/big'), false)
    })
  })

  describe('keys', () => {
    it('accepts path-like keys', async () => {
      for (const key of ['a', 'a/b/c', 'lab/mouse-7/run_2026.01.02', 'x@y+z=w,v~u', 'A'.repeat(MAX_SEGMENT_LENGTH)]) {
        await refs.set(key, 1)
        assert.equal((await refs.get(key)).key, key)
      }
    })

    it('refuses bad keys with InvalidKeyError everywhere a key is taken', async () => {
      const bad: unknown[] = [
        '', 'a//b', '/a', 'a/', '/', '..', '.', 'a/../b', 'a/./b', 'has space', ' a', 'tab\there', 'nul\x00',
        'é', 'a\\b', 'a?b', 'a#b', 'x'.repeat(MAX_KEY_LENGTH + 1), `a/${'b'.repeat(MAX_SEGMENT_LENGTH + 1)}`,
        undefined, null, 42, ['a']
      ]
      for (const key of bad) {
        const k = key as string
        await assert.rejects(refs.set(k, 1), { name: 'InvalidKeyError', code: 'INVALID_KEY' }, JSON.stringify(key))
        await assert.rejects(refs.get(k), { name: 'InvalidKeyError' }, JSON.stringify(key))
        await assert.rejects(refs.rm(k), { name: 'InvalidKeyError' }, JSON.stringify(key))
        await assert.rejects(refs.history(k), { name: 'InvalidKeyError' }, JSON.stringify(key))
      }
    })

    it('the longest allowed key works', async () => {
      const seg = 'k'.repeat(MAX_SEGMENT_LENGTH - 1)
      const parts: string[] = []
      while ((parts.join('/') + '/' + seg).length <= MAX_KEY_LENGTH) parts.push(seg)
      const key = parts.join('/').padEnd(MAX_KEY_LENGTH, 'z')
      assert.equal(key.length, MAX_KEY_LENGTH)
      await refs.set(key, 1)
      assert.equal((await refs.get(key)).version, 1)
    })
  })

  describe('meta', () => {
    it('validates the fields Trove interprets', async () => {
      const bad = [
        { priority: 1.5 }, { priority: '5' }, { priority: null }, { priority: Number.NaN }, { priority: 2 ** 60 },
        { pin: 'yes' }, { pin: 1 }, { pin: null },
        { expires: 'tomorrow' }, { expires: '12' }, { expires: 123 }, { expires: '7d' },
        { ttl: 7 }, { ttl: 'week' }, { ttl: '' },
        [], 'meta', 5
      ]
      for (const meta of bad) {
        await assert.rejects(refs.set('meta/bad', 1, meta), { name: 'InvalidArgumentError' }, JSON.stringify(meta))
      }
      assert.equal(await refs.has('meta/bad'), false)
    })

    it('keeps user fields exactly as given and normalizes expires', async () => {
      const meta = {
        priority: -3,
        pin: false,
        ttl: '1d12h',
        expires: '2099-12-31',
        project: 'mouse7',
        tags: ['a', 'b'],
        nested: { n: 1, list: [null, true] },
        description: 'see sha1://not-a-reference-in-meta'
      }
      const rec = await refs.set('meta/user', 1, meta)
      assert.deepEqual(rec.meta, { ...meta, expires: '2099-12-31T00:00:00.000Z' })
      assert.deepEqual((await refs.get('meta/user')).meta, rec.meta)
    })

    it('null or absent meta is empty meta', async () => {
      assert.deepEqual((await refs.set('meta/none', 1, null)).meta, {})
      assert.deepEqual((await refs.set('meta/none', 1)).meta, {})
    })
  })

  describe('list', () => {
    let l: TempTrove
    let keys: string[]
    before(async () => {
      l = await openTempTrove()
      keys = []
      for (let i = 0; i < 25; i++) {
        const key = `proj/${i % 2 === 0 ? 'even' : 'odd'}/run${String(i).padStart(2, '0')}`
        keys.push(key)
        await l.trove.refs.set(key, { data: U[i % 3] }, { priority: i % 4, group: i % 2 === 0 ? 'even' : 'odd' })
      }
      await l.trove.refs.set('other/x', { data: U[0] })
      await l.trove.refs.set('proja', 1)
      keys.sort()
    })
    after(async () => { await l.cleanup() })

    async function all (options: Parameters<RefStore['list']>[0], limit: number): Promise<RefRecord[]> {
      const out: RefRecord[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 100; pages++) {
        const page = await l.trove.refs.list({ ...options, limit, cursor })
        assert.ok(page.refs.length <= limit)
        out.push(...page.refs)
        if (page.cursor === undefined) return out
        assert.ok(page.refs.length === limit)
        cursor = page.cursor
      }
      throw new Error('paging did not end')
    }

    it('lists everything in key order by default', async () => {
      const page = await l.trove.refs.list()
      assert.equal(page.cursor, undefined)
      assert.deepEqual(page.refs.map((r) => r.key), [...keys, 'other/x', 'proja'].sort())
    })

    it('filters by prefix, with or without a trailing slash, and mid-segment', async () => {
      assert.deepEqual((await l.trove.refs.list({ prefix: 'proj/' })).refs.map((r) => r.key), keys)
      assert.deepEqual((await l.trove.refs.list({ prefix: 'proj/even/' })).refs.map((r) => r.key), keys.filter((k) => k.includes('even')))
      assert.deepEqual((await l.trove.refs.list({ prefix: 'proj' })).refs.map((r) => r.key), [...keys, 'proja'])
      assert.deepEqual((await l.trove.refs.list({ prefix: 'proj/odd/run1' })).refs.map((r) => r.key), keys.filter((k) => k.startsWith('proj/odd/run1')))
      assert.deepEqual((await l.trove.refs.list({ prefix: 'nothing' })).refs, [])
      await assert.rejects(l.trove.refs.list({ prefix: 'a//' }), { name: 'InvalidKeyError' })
    })

    it('pages with limit + cursor and the pages add up to the full list', async () => {
      for (const limit of [1, 2, 7, 25, 26, 100]) {
        assert.deepEqual((await all({ prefix: 'proj/' }, limit)).map((r) => r.key), keys, `limit ${limit}`)
      }
      const full = (await l.trove.refs.list()).refs.map((r) => r.key)
      assert.deepEqual((await all({}, 4)).map((r) => r.key), full)
    })

    it('refuses a bad limit', async () => {
      for (const limit of [0, -1, 1.5]) {
        await assert.rejects(l.trove.refs.list({ limit }), { name: 'InvalidArgumentError' })
      }
    })

    it('refsTo lists the refs that reference a blob, by hash or URI, and pages', async () => {
      const expected = [...keys.filter((_, i) => Number(keys[i].slice(-2)) % 3 === 0), 'other/x'].sort()
      assert.deepEqual((await l.trove.refs.list({ refsTo: H[0] })).refs.map((r) => r.key), expected)
      assert.deepEqual((await l.trove.refs.list({ refsTo: `${U[0]}/name.bin` })).refs.map((r) => r.key), expected)
      assert.deepEqual((await all({ refsTo: H[0] }, 3)).map((r) => r.key), expected)
      assert.deepEqual((await l.trove.refs.list({ refsTo: H[0], prefix: 'proj/even/' })).refs.map((r) => r.key),
        expected.filter((k) => k.startsWith('proj/even/')))
      assert.deepEqual((await l.trove.refs.list({ refsTo: H[5] })).refs, [])
      await assert.rejects(l.trove.refs.list({ refsTo: 'sha1://nope' }), { name: 'InvalidUriError' })
      await assert.rejects(l.trove.refs.list({ refsTo: 'nope' }), { name: 'InvalidUriError' })
    })

    it('filters by meta values, and pages through the filter', async () => {
      const evens = keys.filter((k) => k.includes('even'))
      assert.deepEqual((await l.trove.refs.list({ meta: { group: 'even' } })).refs.map((r) => r.key), evens)
      const p3 = keys.filter((k) => Number(k.slice(-2)) % 4 === 3)
      assert.deepEqual((await l.trove.refs.list({ meta: { priority: 3 } })).refs.map((r) => r.key), p3)
      assert.deepEqual((await all({ meta: { group: 'odd', priority: 1 } }, 2)).map((r) => r.key),
        keys.filter((k) => k.includes('odd') && Number(k.slice(-2)) % 4 === 1))
      assert.deepEqual((await l.trove.refs.list({ meta: { group: 'none' } })).refs, [])
    })
  })

  describe('holders', () => {
    it('reports each holding ref with its priority and pin, and follows changes', async () => {
      await refs.set('hold/a', [U[5]], { priority: 3 })
      await refs.set('hold/b', { x: { y: [U[5], U[5]] } }, { pin: true })
      await refs.set('hold/c', U[5], { priority: -1, pin: false })
      assert.deepEqual(await refs.holders(H[5]), [
        { key: 'hold/a', priority: 3, pin: false },
        { key: 'hold/b', priority: 0, pin: true },
        { key: 'hold/c', priority: -1, pin: false }
      ])
      await refs.set('hold/a', [U[5]], { priority: 9, pin: true })
      await refs.set('hold/b', { x: 'no longer' })
      await refs.rm('hold/c')
      assert.deepEqual(await refs.holders(H[5]), [{ key: 'hold/a', priority: 9, pin: true }])
      await assert.rejects(refs.holders('abc'), { name: 'InvalidUriError' })
    })

    it('holdersMany lists, for many blobs at once, what holders lists for each (first `limit`)', async () => {
      const blobs = Array.from({ length: 30 }, (_, i) => fakeSha1(5000 + i))
      for (const [i, h] of blobs.entries()) {
        // none, one, or more holders than one read block (and more than the limit)
        for (let j = 0; j < (i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : 12); j++) await refs.set(`hm/${i}/${j}`, `sha1://${h}`, { priority: j })
      }
      const asked = [...blobs].reverse().concat(blobs[4])
      const all = await refs.holdersMany(asked)
      const firstThree = await refs.holdersMany(asked, 3)
      for (const h of blobs) {
        assert.deepEqual(all.get(h), await refs.holders(h))
        assert.deepEqual(firstThree.get(h), (await refs.holders(h)).slice(0, 3))
      }
      assert.equal((await refs.holdersMany([])).size, 0)
      await assert.rejects(refs.holdersMany([blobs[0], 'abc']), { name: 'InvalidUriError' })
    })

    it('holdersMany is right for unheld blobs between, before and after held ones (answered from what it read ahead)', async () => {
      const blobs = Array.from({ length: 400 }, (_, i) => fakeSha1(7000 + i)).sort()
      // a few held blobs spread through a sorted run of unheld ones, one with more holders than a read block
      const held = [blobs[0], blobs[1], blobs[150], blobs[151], blobs[398]]
      for (const [i, h] of held.entries()) {
        for (let j = 0; j < (i === 2 ? 11 : 1); j++) await refs.set(`ra/${i}/${j}`, `sha1://${h}`, { priority: j })
      }
      for (const limit of [Infinity, 1, 10]) {
        const many = await refs.holdersMany(blobs, limit)
        assert.equal(many.size, blobs.length)
        for (const h of blobs) assert.deepEqual(many.get(h), (await refs.holders(h)).slice(0, limit))
      }
      // blobs past every edge in the table, and a list of unheld ones only
      const none = Array.from({ length: 50 }, (_, i) => fakeSha1(9000 + i))
      for (const [h, list] of await refs.holdersMany(none)) assert.deepEqual(list, await refs.holders(h))
    })

    it('a malformed sha1:// string in obj is InvalidUriError and nothing is written', async () => {
      await refs.set('bad/uri', { ok: U[0] })
      const before = { refs: await dbCount('refs'), versions: await dbCount('versions'), edges: await dbCount('edges') }
      for (const bad of ['sha1://abc', `sha1://${H[1].toUpperCase()}`, `sha1://${H[1]}x`]) {
        await assert.rejects(refs.set('bad/uri', { ok: U[1], nested: [{ bad }] }), { name: 'InvalidUriError', code: 'INVALID_URI' })
        await assert.rejects(refs.set('bad/new', [bad]), { name: 'InvalidUriError' })
      }
      assert.deepEqual({ refs: await dbCount('refs'), versions: await dbCount('versions'), edges: await dbCount('edges') }, before)
      assert.deepEqual((await refs.get('bad/uri')).obj, { ok: U[0] })
      assert.equal(await refs.has('bad/new'), false)
    })
  })

  describe('pins', () => {
    it('pin, getPin, unpin, and listing pins', async () => {
      assert.equal(await refs.getPin(H[0]), undefined)
      const p = await refs.pin(H[0], { by: 'ann' })
      assert.equal(p.sha1, H[0])
      assert.equal(p.by, 'ann')
      const again = await refs.pin(H[0], { by: 'bob' })
      assert.deepEqual(again, p, 'pinning twice keeps the first pin')
      assert.deepEqual(await refs.getPin(H[0]), p)
      await refs.pin(H[1])
      const listed: string[] = []
      for await (const pin of refs.pins()) listed.push(pin.sha1)
      assert.deepEqual(listed, [H[0], H[1]].sort())
      assert.equal(await refs.unpin(H[0]), true)
      assert.equal(await refs.unpin(H[0]), false)
      assert.equal(await refs.getPin(H[0]), undefined)
      await assert.rejects(refs.pin('nothex'), { name: 'InvalidUriError' })
      await assert.rejects(refs.unpin(H[0].toUpperCase()), { name: 'InvalidUriError' })
    })

    it('Trove.pin refuses a blob that is not stored, and takes URIs', async () => {
      await assert.rejects(t.trove.pin(H[2]), { name: 'BlobNotFoundError' })
      const { sha1 } = await t.trove.store.putBytes(Buffer.from('pin me'))
      assert.equal((await t.trove.pin(`sha1://${sha1}/file.txt`)).sha1, sha1)
      assert.deepEqual(await t.trove.unpin(`sha1://${sha1}`), { sha1, unpinned: true })
    })
  })

  describe('expiry', () => {
    it('expiredBy yields refs whose expires has passed, oldest first, and follows set and rm', async () => {
      const e = await openTempTrove()
      try {
        const r = e.trove.refs
        await r.set('exp/late', 1, { expires: '2030-01-03T00:00:00Z' })
        await r.set('exp/early', 1, { expires: '2030-01-01T00:00:00Z' })
        await r.set('exp/mid', 1, { expires: '2030-01-02T00:00:00Z' })
        await r.set('exp/never', 1)
        const expired = async (iso: string): Promise<string[]> => {
          const out: string[] = []
          for await (const k of r.expiredBy(Date.parse(iso))) out.push(k)
          return out
        }
        assert.deepEqual(await expired('2029-12-31T00:00:00Z'), [])
        assert.deepEqual(await expired('2030-01-02T00:00:00Z'), ['exp/early', 'exp/mid'])
        assert.deepEqual(await expired('2031-01-01T00:00:00Z'), ['exp/early', 'exp/mid', 'exp/late'])
        await r.set('exp/early', 1, { expires: '2030-06-01T00:00:00Z' })
        await r.rm('exp/mid')
        await r.set('exp/late', 1)
        assert.deepEqual(await expired('2030-05-01T00:00:00Z'), [])
        assert.deepEqual(await expired('2031-01-01T00:00:00Z'), ['exp/early'])
        let n = 0
        for await (const _ of e.trove.db.expiry.keys()) n++
        assert.equal(n, 1)
      } finally {
        await e.cleanup()
      }
    })
  })

  describe('access tracking for ttl refs', () => {
    it('get updates lastAccess of ttl refs only, and flushAccess persists it', async () => {
      const a = await openTempTrove()
      try {
        const r = a.trove.refs
        const t0 = Date.now()
        await r.set('ttl/k', 1, { ttl: '7d' })
        await r.set('plain/k', 1)
        const first = await r.lastAccess('ttl/k')
        assert.ok(first !== undefined && first >= t0)
        assert.equal(await r.lastAccess('plain/k'), undefined)
        await r.get('plain/k')
        assert.equal(await r.lastAccess('plain/k'), undefined)
        await new Promise((resolve) => setTimeout(resolve, 5))
        await r.get('ttl/k')
        const second = await r.lastAccess('ttl/k')
        assert.ok(second !== undefined && second > first)
        assert.equal(await a.trove.db.access.get('ttl/k'), undefined, 'a read does not cost a write')
        await r.flushAccess()
        assert.equal(await a.trove.db.access.get('ttl/k'), second)
        assert.equal(r.ttlMs((await r.get('ttl/k')).meta), 7 * 86_400_000)
        const last = await a.trove.refs.lastAccess('ttl/k')
        await a.reopen()
        assert.equal(await a.trove.refs.lastAccess('ttl/k'), last, 'close flushes and reopen reads it back')
        await a.trove.refs.rm('ttl/k')
        assert.equal(await a.trove.refs.lastAccess('ttl/k'), undefined)
      } finally {
        await a.cleanup()
      }
    })
  })

  describe('background failures', () => {
    it('a failed flush of access times on the timer is logged at warn, not lost', async () => {
      const a = await openTempTrove()
      const logger = memoryLogger()
      let failing = true
      const db = a.trove.db
      // the same database, except that writes of access times fail while `failing` is set
      const flaky: TroveDb = {
        ...db,
        batch: async (ops, options) => {
          if (failing && ops.some((op) => op.sublevel === db.access)) throw Object.assign(new Error('disk full'), { name: 'DiskFullError' })
          return db.batch(ops, options)
        }
      }
      const r = new RefStore({ db: flaky, logger }, { accessFlushIntervalMs: 5 })
      try {
        await r.set('flaky/ttl', 1, { ttl: '7d' })
        while (logger.records.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
        const [record] = logger.records
        assert.equal(record.level, 'warn')
        assert.equal(record.component, 'refs')
        assert.equal((record.details[0] as Error).name, 'DiskFullError')
      } finally {
        failing = false
        await r.close()
        await a.cleanup()
      }
    })

    it('count and pinCount count refs (not removed ones) and pins', async () => {
      const c = await openTempTrove()
      try {
        const r = c.trove.refs
        assert.equal(await r.count(), 0)
        assert.equal(await r.pinCount(), 0)
        await r.set('count/a', 1)
        await r.set('count/b', 1)
        await r.set('count/b', 2)
        await r.rm('count/a')
        await r.pin(H[0])
        await r.pin(H[1])
        await r.pin(H[1])
        assert.equal(await r.count(), 1)
        assert.equal(await r.pinCount(), 2)
        const st = await c.trove.status()
        assert.equal(st.refs, 1)
        assert.equal(st.pins, 2)
      } finally {
        await c.cleanup()
      }
    })
  })

  it('refs, versions and edges survive reopen', async () => {
    const s = await openTempTrove()
    try {
      await s.trove.refs.set('keep/me', { x: U[0] }, { priority: 4 })
      await s.trove.refs.set('keep/me', { x: U[1] }, { priority: 4 })
      await s.reopen()
      assert.equal((await s.trove.refs.get('keep/me')).version, 2)
      assert.deepEqual(await s.trove.refs.holders(H[1]), [{ key: 'keep/me', priority: 4, pin: false }])
      assert.deepEqual(await s.trove.refs.holders(H[0]), [])
      assert.equal((await s.trove.refs.set('keep/me', 1)).version, 3)
    } finally {
      await s.cleanup()
    }
  })
})
