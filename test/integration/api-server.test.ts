import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MAX_JSON_BODY_BYTES } from '../../src/api/constants.js'
import { NotImplementedError } from '../../src/api/errors.js'
import { rawRequest, startApiFixture, type ApiFixture } from '../helpers/api-fixture.js'

const V1 = '/api/v1'
/** Several 1 MiB chunks of upload, sent as a chunked stream (no Content-Length). */
const UPLOAD_SIZE = 6 * 1024 * 1024 + 7

function sha1 (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

function * chunksOf (buf: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

/** Every error answer has exactly this shape, and no stack trace anywhere. */
function assertError (res: { status: number, json: () => any, body: Buffer }, status: number, code: string): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(res.status, status, res.body.toString())
  const body = res.json()
  assert.deepEqual(Object.keys(body), ['error'])
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'name'])
  assert.equal(body.error.code, code)
  assert.doesNotMatch(res.body.toString(), /\n\s+at /)
}

describe('HTTP API server', () => {
  let f: ApiFixture
  let big: Buffer
  let bigSha1: string
  const small = Buffer.from('0123456789abcdefghij')
  const smallSha1 = sha1(small)

  before(async () => {
    f = await startApiFixture()
    big = randomBytes(UPLOAD_SIZE)
    bigSha1 = sha1(big)
  })
  after(async () => { await f.cleanup() })

  describe('blobs', () => {
    it('streams a several-MB upload into the store and answers its URI', async () => {
      const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?name=big.bin`, headers: f.auth, body: chunksOf(big) })
      assert.equal(res.status, 200, res.body.toString())
      assert.deepEqual(res.json(), { uri: `sha1://${bigSha1}/big.bin`, sha1: bigSha1, size: UPLOAD_SIZE, added: true, name: 'big.bin' })
      assert.equal((await f.trove.store.stat(bigSha1))?.size, UPLOAD_SIZE)
      const again = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers: f.auth, body: big })
      assert.equal(again.json().added, false)
      assert.equal(again.json().uri, `sha1://${bigSha1}`)
    })

    it('downloads the whole blob with length, etag and accept-ranges', async () => {
      const res = await rawRequest(f.url, { path: `${V1}/blobs/${bigSha1}` })
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-length'], String(UPLOAD_SIZE))
      assert.equal(res.headers.etag, `"${bigSha1}"`)
      assert.equal(res.headers['accept-ranges'], 'bytes')
      assert.equal(res.headers['content-type'], 'application/octet-stream')
      assert.ok(res.body.equals(big))
    })

    it('HEAD answers the headers of GET and no body', async () => {
      const res = await rawRequest(f.url, { method: 'HEAD', path: `${V1}/blobs/${bigSha1}` })
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-length'], String(UPLOAD_SIZE))
      assert.equal(res.headers.etag, `"${bigSha1}"`)
      assert.equal(res.body.length, 0)
      const missing = await rawRequest(f.url, { method: 'HEAD', path: `${V1}/blobs/${sha1('absent')}` })
      assert.equal(missing.status, 404)
    })

    it('serves single ranges with 206 and Content-Range', async () => {
      await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers: f.auth, body: small })
      const cases: Array<[string, number, number]> = [
        ['bytes=2-5', 2, 5],
        ['bytes=15-', 15, 19],
        ['bytes=-4', 16, 19],
        ['bytes=10-1000', 10, 19],
        ['bytes=-100', 0, 19]
      ]
      for (const [range, start, end] of cases) {
        const res = await rawRequest(f.url, { path: `${V1}/blobs/${smallSha1}`, headers: { range } })
        assert.equal(res.status, 206, range)
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${small.length}`, range)
        assert.equal(res.headers['content-length'], String(end - start + 1), range)
        assert.ok(res.body.equals(small.subarray(start, end + 1)), range)
      }
      // a range deep inside the big blob, across chunk boundaries
      const res = await rawRequest(f.url, { path: `${V1}/blobs/${bigSha1}`, headers: { range: 'bytes=1048570-3145730' } })
      assert.equal(res.status, 206)
      assert.ok(res.body.equals(big.subarray(1048570, 3145731)))
    })

    it('answers 416 for a range outside the blob', async () => {
      for (const range of ['bytes=20-', 'bytes=100-200', 'bytes=-0']) {
        const res = await rawRequest(f.url, { path: `${V1}/blobs/${smallSha1}`, headers: { range } })
        assertError(res, 416, 'RANGE_NOT_SATISFIABLE')
        assert.equal(res.headers['content-range'], `bytes */${small.length}`)
      }
    })

    it('ignores a Range it does not serve (multi-range, other units) and sends everything', async () => {
      for (const range of ['bytes=0-1,4-5', 'items=0-1', 'bytes=5-2']) {
        const res = await rawRequest(f.url, { path: `${V1}/blobs/${smallSha1}`, headers: { range } })
        assert.equal(res.status, 200, range)
        assert.ok(res.body.equals(small))
      }
    })

    it('answers 304 to a matching If-None-Match and names downloads on request', async () => {
      const res = await rawRequest(f.url, { path: `${V1}/blobs/${smallSha1}`, headers: { 'if-none-match': `"${smallSha1}"` } })
      assert.equal(res.status, 304)
      assert.equal(res.body.length, 0)
      const named = await rawRequest(f.url, { path: `${V1}/blobs/${smallSha1}?name=r%C3%A9sum%C3%A9.txt` })
      assert.equal(named.headers['content-disposition'], "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")
    })

    it('stores the raw bytes whatever Content-Type the upload claims', async () => {
      for (const type of ['application/json', 'multipart/form-data; boundary=x', 'text/plain']) {
        const body = `{"not": "parsed", "type": "${type}"`
        const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers: { ...f.auth, 'content-type': type }, body })
        assert.equal(res.status, 200, type)
        assert.equal(res.json().sha1, sha1(body), type)
      }
    })

    it('stores an empty body as the empty blob', async () => {
      const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers: f.auth })
      assert.equal(res.status, 200)
      assert.equal(res.json().sha1, sha1(''))
      assert.equal(res.json().size, 0)
      const range = await rawRequest(f.url, { path: `${V1}/blobs/${sha1('')}`, headers: { range: 'bytes=0-' } })
      assertError(range, 416, 'RANGE_NOT_SATISFIABLE')
    })

    it('pins and records a ref for an upload when asked', async () => {
      const body = Buffer.from('pinned and referenced')
      const meta = encodeURIComponent(JSON.stringify({ priority: 3 }))
      const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?name=p.txt&pin=1&ref=up/loads/p&meta=${meta}`, headers: f.auth, body })
      assert.equal(res.status, 200, res.body.toString())
      const h = sha1(body)
      assert.equal((await f.trove.refs.getPin(h))?.sha1, h)
      const ref = await f.trove.getRef('up/loads/p')
      assert.deepEqual(ref.obj, { 'p.txt': `sha1://${h}/p.txt` })
      assert.equal(ref.meta.priority, 3)
    })

    it('uploads with the same ref=KEY, one per file, build up one ref: earlier files stay, a name added again is replaced', async () => {
      const up = async (name: string, body: string, query = ''): Promise<{ uri: string }> => {
        const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?name=${name}&ref=up/many${query}`, headers: f.auth, body })
        assert.equal(res.status, 200, res.body.toString())
        return res.json()
      }
      const a = await up('a.csv', 'a,1\n', `&meta=${encodeURIComponent('{"priority":4}')}`)
      const b = await up('b.csv', 'b,1\n')
      let ref = await f.trove.getRef('up/many')
      assert.deepEqual(ref.obj, { 'a.csv': a.uri, 'b.csv': b.uri })
      assert.equal(ref.meta.priority, 4, 'meta fields not given again are kept')
      const b2 = await up('b.csv', 'b,2\n')
      ref = await f.trove.getRef('up/many')
      assert.deepEqual(ref.obj, { 'a.csv': a.uri, 'b.csv': b2.uri })
      assert.equal(ref.version, 3)
      assert.deepEqual((await f.trove.getRef('up/many', { version: 2 })).obj, { 'a.csv': a.uri, 'b.csv': b.uri })
      // without a name the member is the hash
      const bare = await up('', 'no name\n')
      assert.equal(((await f.trove.getRef('up/many')).obj as Record<string, string>)[sha1('no name\n')], bare.uri)
    })

    it('an upload to a ref that holds no object is 409 REF_NOT_OBJECT and stores nothing', async () => {
      await f.trove.setRef('up/list', [1, 2])
      const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?name=x&ref=up/list`, headers: f.auth, body: 'refused upload' })
      assertError(res, 409, 'REF_NOT_OBJECT')
      assert.equal(await f.trove.store.has(sha1('refused upload')), false)
      assert.deepEqual((await f.trove.getRef('up/list')).obj, [1, 2])
    })

    it('refuses an upload with a bad ref key before storing anything', async () => {
      const before = f.trove.store.getUsage()
      const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?ref=bad//key`, headers: f.auth, body: 'never stored' })
      assertError(res, 400, 'INVALID_KEY')
      assert.deepEqual(f.trove.store.getUsage(), before)
      assert.equal(await f.trove.store.has(sha1('never stored')), false)
    })

    it('an upload cut off half-way stores nothing and leaves no temp file', async () => {
      const before = f.trove.store.getUsage()
      const partial = randomBytes(2 * 1024 * 1024)
      async function * halfThenFail (): AsyncGenerator<Buffer> {
        yield partial
        await new Promise((resolve) => setTimeout(resolve, 50))
        throw new Error('client gave up')
      }
      await assert.rejects(rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers: f.auth, body: halfThenFail() }))
      // the server notices the reset asynchronously; wait for its cleanup (a condition, not a timing)
      for (let i = 0; i < 200 && (await fs.readdir(path.join(f.dir, 'tmp'))).length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      assert.deepEqual(await fs.readdir(path.join(f.dir, 'tmp')), [])
      assert.deepEqual(f.trove.store.getUsage(), before)
    })

    it('answers stable codes for bad and missing hashes', async () => {
      assertError(await rawRequest(f.url, { path: `${V1}/blobs/not-a-hash` }), 400, 'INVALID_URI')
      assertError(await rawRequest(f.url, { path: `${V1}/blobs/${bigSha1.toUpperCase()}` }), 400, 'INVALID_URI')
      assertError(await rawRequest(f.url, { path: `${V1}/blobs/${sha1('nothing')}` }), 404, 'BLOB_NOT_FOUND')
    })
  })

  describe('refs', () => {
    const put = async (key: string, body: unknown, headers: Record<string, string> = {}): Promise<ReturnType<typeof rawRequest>> =>
      rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/${key}`, headers: { ...f.auth, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

    it('sets, reads, versions and removes refs with slashes in their keys', async () => {
      const obj = { result: `sha1://${smallSha1}` }
      const res = await put('lab/mouse7/spike-sorting', { obj, meta: { priority: 2 } }, { 'x-trove-by': 'script@rig' })
      assert.equal(res.status, 200, res.body.toString())
      assert.equal(res.json().version, 1)
      assert.equal(res.json().by, 'script@rig')
      assert.equal((await put('lab/mouse7/spike-sorting', { obj: { v: 2 } })).json().version, 2)

      const got = await rawRequest(f.url, { path: `${V1}/refs/lab/mouse7/spike-sorting` })
      assert.equal(got.json().version, 2)
      assert.deepEqual(got.json().obj, { v: 2 })
      const encoded = await rawRequest(f.url, { path: `${V1}/refs/lab%2Fmouse7%2Fspike-sorting?version=1` })
      assert.deepEqual(encoded.json().obj, obj)
      assert.equal(encoded.json().meta.priority, 2)

      const del = await rawRequest(f.url, { method: 'DELETE', path: `${V1}/refs/lab/mouse7/spike-sorting`, headers: f.auth })
      assert.deepEqual(del.json(), { key: 'lab/mouse7/spike-sorting', version: 3 })
      assertError(await rawRequest(f.url, { path: `${V1}/refs/lab/mouse7/spike-sorting` }), 404, 'REF_NOT_FOUND')
      assertError(await rawRequest(f.url, { path: `${V1}/refs/lab/mouse7/spike-sorting?version=9` }), 404, 'VERSION_NOT_FOUND')
      assertError(await rawRequest(f.url, { method: 'DELETE', path: `${V1}/refs/lab/mouse7/spike-sorting`, headers: f.auth }), 404, 'REF_NOT_FOUND')

      const hist = await rawRequest(f.url, { path: `${V1}/refs/lab/mouse7/spike-sorting/history` })
      assert.equal(hist.status, 200)
      assert.equal(hist.json().key, 'lab/mouse7/spike-sorting')
      assert.deepEqual(hist.json().history.map((e: { version: number, deleted?: boolean }) => [e.version, e.deleted === true]), [[1, false], [2, false], [3, true]])
    })

    it('reaches a key whose last segment is "history" by encoding the slash before it', async () => {
      // PUT and DELETE have no history form: the path is the key
      assert.equal((await put('runs/history', { obj: 'the ref named history' })).status, 200)
      const ref = await rawRequest(f.url, { path: `${V1}/refs/runs%2Fhistory` })
      assert.equal(ref.json().key, 'runs/history')
      assert.equal(ref.json().obj, 'the ref named history')
      const hist = await rawRequest(f.url, { path: `${V1}/refs/runs/history/history` })
      assert.equal(hist.json().key, 'runs/history')
      // `runs` itself has no history: the literal /history form reads the history of `runs`
      assertError(await rawRequest(f.url, { path: `${V1}/refs/runs/history` }), 404, 'REF_NOT_FOUND')
      assert.equal((await put('history', { obj: 1 })).status, 200)
      assert.equal((await rawRequest(f.url, { path: `${V1}/refs/history` })).json().key, 'history')
    })

    it('lists by prefix, by referenced blob and by meta, in pages', async () => {
      for (const name of ['a', 'b', 'c', 'd']) {
        await put(`list/${name}`, { obj: name === 'b' ? `sha1://${bigSha1}` : name, meta: { priority: name === 'c' ? 5 : 0, project: 'x' } })
      }
      const all = await rawRequest(f.url, { path: `${V1}/refs?prefix=list/` })
      assert.deepEqual(all.json().refs.map((r: { key: string }) => r.key), ['list/a', 'list/b', 'list/c', 'list/d'])
      assert.equal(all.json().cursor, undefined)
      const to = await rawRequest(f.url, { path: `${V1}/refs?refsTo=sha1://${bigSha1}` })
      assert.deepEqual(to.json().refs.map((r: { key: string }) => r.key), ['list/b'])
      const meta = await rawRequest(f.url, { path: `${V1}/refs?prefix=list/&meta.priority=5&meta.project=x` })
      assert.deepEqual(meta.json().refs.map((r: { key: string }) => r.key), ['list/c'])
      const keys: string[] = []
      let cursor: string | undefined
      do {
        const page = await rawRequest(f.url, { path: `${V1}/refs?prefix=list/&limit=3${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}` })
        keys.push(...page.json().refs.map((r: { key: string }) => r.key))
        cursor = page.json().cursor
      } while (cursor !== undefined)
      assert.deepEqual(keys, ['list/a', 'list/b', 'list/c', 'list/d'])
      assertError(await rawRequest(f.url, { path: `${V1}/refs?limit=0` }), 400, 'INVALID_ARGUMENT')
      assertError(await rawRequest(f.url, { path: `${V1}/refs?limit=x` }), 400, 'INVALID_ARGUMENT')
    })

    it('POST /refs/{key} adds members to the ref\'s object and meta fields to its meta; no change, no version', async () => {
      const post = async (key: string, body: unknown): Promise<{ version: number, obj: unknown, meta: unknown }> => {
        const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/refs/${key}`, headers: f.auth, body: JSON.stringify(body) })
        assert.equal(res.status, 200, res.body.toString())
        return res.json()
      }
      const first = await post('merge/k', { obj: { x: 1 }, meta: { priority: 2, project: 'p' } })
      assert.deepEqual([first.version, first.obj, first.meta], [1, { x: 1 }, { priority: 2, project: 'p' }])
      const second = await post('merge%2Fk', { obj: { y: 2, x: 3 }, meta: { priority: 5 } })
      assert.deepEqual([second.version, second.obj, second.meta], [2, { x: 3, y: 2 }, { priority: 5, project: 'p' }])
      const same = await post('merge/k', { obj: { y: 2 } })
      assert.equal(same.version, 2)
      await f.trove.setRef('merge/scalar', 'text')
      assertError(await rawRequest(f.url, { method: 'POST', path: `${V1}/refs/merge/scalar`, headers: f.auth, body: '{"obj": {"a": 1}}' }), 409, 'REF_NOT_OBJECT')
      for (const body of ['{"obj": [1]}', '{"obj": 1}', '{"meta": {}}', '{"obj": {}, "extra": 1}']) {
        assertError(await rawRequest(f.url, { method: 'POST', path: `${V1}/refs/merge/k`, headers: f.auth, body }), 400, 'INVALID_ARGUMENT')
      }
      assertError(await rawRequest(f.url, { method: 'POST', path: `${V1}/refs/merge/k`, body: '{"obj": {"z": 1}}' }), 401, 'UNAUTHORIZED')
      assert.equal((await f.trove.getRef('merge/k')).version, 2)
    })

    it('answers 400 with stable codes for bad keys, bodies and JSON', async () => {
      assertError(await put('bad%20key', { obj: 1 }), 400, 'INVALID_KEY')
      assertError(await rawRequest(f.url, { path: `${V1}/refs/a/%E0%A4%A` }), 400, 'INVALID_ARGUMENT')
      const malformed = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/ok/key`, headers: { ...f.auth, 'content-type': 'application/json' }, body: '{"obj": ' })
      assertError(malformed, 400, 'INVALID_JSON')
      assertError(await put('ok/key', [1, 2]), 400, 'INVALID_ARGUMENT')
      assertError(await put('ok/key', { meta: {} }), 400, 'INVALID_ARGUMENT')
      assertError(await put('ok/key', { obj: 1, extra: true }), 400, 'INVALID_ARGUMENT')
      assertError(await put('ok/key', { obj: 1, meta: { priority: 'high' } }), 400, 'INVALID_ARGUMENT')
      assertError(await put('ok/key', { obj: 'sha1://nothex' }), 400, 'INVALID_URI')
      // a body without a JSON content type is still JSON (curl -d sends form encoding)
      const form = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/ok/form`, headers: { ...f.auth, 'content-type': 'application/x-www-form-urlencoded' }, body: '{"obj":1}' })
      assert.equal(form.status, 200)
      await assert.rejects(f.trove.getRef('ok/key'), { code: 'REF_NOT_FOUND' })
    })

    it('refuses JSON bodies, query meta and X-Trove-By with invalid UTF-8 instead of storing U+FFFD; valid UTF-8 round-trips', async () => {
      const json = { 'content-type': 'application/json' }
      const bad: Array<[string, Buffer]> = [
        ['a lone 0xff', Buffer.concat([Buffer.from('{"obj":"a'), Buffer.from([0xff]), Buffer.from('b"}')])],
        ['an encoded surrogate', Buffer.concat([Buffer.from('{"obj":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
        ['an overlong slash', Buffer.concat([Buffer.from('{"obj":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
        ['a sequence cut short', Buffer.concat([Buffer.from('{"obj":"x","meta":{"project":"'), Buffer.from([0xf0, 0x9f, 0xa7]), Buffer.from('"}}')])]
      ]
      for (const [what, body] of bad) {
        for (const method of ['PUT', 'POST']) {
          const res = await rawRequest(f.url, { method, path: `${V1}/refs/utf8/bad`, headers: { ...f.auth, ...json }, body })
          assertError(res, 400, 'INVALID_JSON')
          assert.match(res.json().error.message, /UTF-8/, what)
        }
      }
      await assert.rejects(f.trove.getRef('utf8/bad'), { code: 'REF_NOT_FOUND' })

      // the name, ref and meta of an upload come in the query string: %FF is no more text there than in a body
      for (const query of ['name=a%FF.bin&ref=utf8/query', 'ref=utf8/query&meta=%7B%22project%22%3A%22%FF%22%7D', 'ref=utf8/query%ED%A0%80']) {
        const upload = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?${query}`, headers: f.auth, body: small })
        assertError(upload, 400, 'INVALID_ARGUMENT')
        assert.match(upload.json().error.message, /UTF-8/, query)
      }
      await assert.rejects(f.trove.getRef('utf8/query'), { code: 'REF_NOT_FOUND' })
      assertError(await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/utf8/key%FF`, headers: { ...f.auth, ...json }, body: '{"obj":1}' }), 400, 'INVALID_ARGUMENT')
      assert.deepEqual((await f.trove.listRefs({ prefix: 'utf8/' })).refs.map((r) => r.key), [])
      // header values arrive as latin1 characters, one per byte: bytes that are not UTF-8 are refused
      // (a Buffer body: with a string body node's client writes the header block as UTF-8 too)
      const badBy = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/utf8/by`, headers: { ...f.auth, ...json, 'x-trove-by': 'ab\xffcd' }, body: Buffer.from('{"obj":1}') })
      assertError(badBy, 400, 'INVALID_ARGUMENT')
      await assert.rejects(f.trove.getRef('utf8/by'), { code: 'REF_NOT_FOUND' })

      const text = 'héllo ✓ 日本 🧪\u{10FFFF}'
      const good = Buffer.from(JSON.stringify({ obj: { text, [text]: [text] }, meta: { project: text } }), 'utf8')
      const res = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/utf8/good`, headers: { ...f.auth, ...json, 'x-trove-by': Buffer.from(`${text}@rig`, 'utf8').toString('latin1') }, body: good })
      assert.equal(res.status, 200, res.body.toString())
      const stored = await f.trove.getRef('utf8/good')
      assert.deepEqual(stored.obj, { text, [text]: [text] })
      assert.equal(stored.meta.project, text)
      assert.equal(stored.by, `${text}@rig`)
      const read = await rawRequest(f.url, { path: `${V1}/refs/utf8/good` })
      assert.deepEqual(read.json().obj, { text, [text]: [text] })
      const uploaded = await rawRequest(f.url, { method: 'POST', path: `${V1}/blobs?ref=utf8/query&meta=${encodeURIComponent(JSON.stringify({ project: text }))}`, headers: f.auth, body: small })
      assert.equal(uploaded.status, 200, uploaded.body.toString())
      assert.equal((await f.trove.getRef('utf8/query')).meta.project, text)
    })

    it('refuses a JSON body over the limit with 413', async () => {
      const body = `{"obj":"${'x'.repeat(MAX_JSON_BODY_BYTES)}"}`
      const res = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/too/big`, headers: { ...f.auth, 'content-type': 'application/json' }, body })
      assertError(res, 413, 'PAYLOAD_TOO_LARGE')
      await assert.rejects(f.trove.getRef('too/big'), { code: 'REF_NOT_FOUND' })
    })
  })

  describe('pins, why, node state', () => {
    it('pins and unpins, and why says what keeps a blob', async () => {
      const pin = await rawRequest(f.url, { method: 'PUT', path: `${V1}/pins/${smallSha1}`, headers: f.auth })
      assert.equal(pin.status, 200)
      assert.equal(pin.json().sha1, smallSha1)
      const list = await rawRequest(f.url, { path: `${V1}/pins` })
      assert.ok(list.json().pins.some((p: { sha1: string }) => p.sha1 === smallSha1))
      const why = await rawRequest(f.url, { path: `${V1}/why/${smallSha1}` })
      assert.equal(why.json().pinned, true)
      assert.equal(why.json().reasons[0].kind, 'pin')
      const unpin = await rawRequest(f.url, { method: 'DELETE', path: `${V1}/pins/${smallSha1}`, headers: f.auth })
      assert.deepEqual(unpin.json(), { sha1: smallSha1, unpinned: true })
      assertError(await rawRequest(f.url, { method: 'PUT', path: `${V1}/pins/${sha1('not here')}`, headers: f.auth }), 404, 'BLOB_NOT_FOUND')
      assertError(await rawRequest(f.url, { path: `${V1}/why/xyz` }), 400, 'INVALID_URI')
    })

    it('status is the node\'s report in node mode with the API url', async () => {
      const res = await rawRequest(f.url, { path: `${V1}/status` })
      assert.equal(res.status, 200)
      const st = res.json()
      assert.equal(st.mode, 'node')
      assert.equal(st.dataDir, f.dir)
      assert.equal(st.api.url, f.url)
      assert.deepEqual(st.usage, f.trove.store.getUsage())
    })

    it('peers, transfers and verify answer', async () => {
      assert.ok(Array.isArray((await rawRequest(f.url, { path: `${V1}/peers` })).json().peers))
      assert.ok(Array.isArray((await rawRequest(f.url, { path: `${V1}/transfers` })).json().transfers))
      const verify = await rawRequest(f.url, { method: 'POST', path: `${V1}/verify`, headers: f.auth })
      assert.equal(verify.status, 200)
      assert.equal(verify.json().ok, true)
    })

    it('gc goes to the node\'s gc, and its errors keep their status (501 NOT_IMPLEMENTED)', async () => {
      const t = f.trove as unknown as { gc?: unknown }
      const original = Object.getOwnPropertyDescriptor(t, 'gc')
      try {
        // every node has space management now; a node that lacked a feature would throw this
        Object.defineProperty(t, 'gc', { value: async () => { throw new NotImplementedError('no space management here') }, configurable: true, writable: true })
        assertError(await rawRequest(f.url, { method: 'POST', path: `${V1}/gc`, headers: f.auth, body: '{"dryRun":true}' }), 501, 'NOT_IMPLEMENTED')
        const calls: unknown[] = []
        t.gc = async (options: unknown) => { calls.push(options); return { dryRun: true, evicted: [] } }
        const res = await rawRequest(f.url, { method: 'POST', path: `${V1}/gc`, headers: f.auth, body: '{"dryRun":true}' })
        assert.equal(res.status, 200)
        assert.deepEqual(calls, [{ dryRun: true }])
        assertError(await rawRequest(f.url, { method: 'POST', path: `${V1}/gc`, headers: f.auth, body: '{"dryRun":"yes"}' }), 400, 'INVALID_ARGUMENT')
      } finally {
        if (original !== undefined) Object.defineProperty(t, 'gc', original)
        else delete t.gc
      }
    })

    it('unknown routes and methods are 404 NOT_FOUND', async () => {
      assertError(await rawRequest(f.url, { path: `${V1}/nope` }), 404, 'NOT_FOUND')
      // `/` was here too until it became the dashboard (issue 16): another path outside /api/v1 instead
      assertError(await rawRequest(f.url, { path: '/nope' }), 404, 'NOT_FOUND')
      assertError(await rawRequest(f.url, { path: '/ui/nope.js' }), 404, 'NOT_FOUND')
      assertError(await rawRequest(f.url, { method: 'PATCH', path: `${V1}/refs/a`, headers: f.auth }), 404, 'NOT_FOUND')
    })
  })

  describe('security', () => {
    it('accepts loopback Host names with any port and refuses everything else with 403', async () => {
      const port = new URL(f.url).port
      for (const host of [`localhost:${port}`, 'LOCALHOST', `127.0.0.1:${port}`, `[::1]:${port}`, '[::1]']) {
        const res = await rawRequest(f.url, { path: `${V1}/status`, headers: { host } })
        assert.equal(res.status, 200, host)
      }
      for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.2', '[::2]:80', 'localhost:x']) {
        assertError(await rawRequest(f.url, { path: `${V1}/status`, headers: { host } }), 403, 'FORBIDDEN_HOST')
      }
      assertError(await rawRequest(f.url, { path: `${V1}/status`, setHost: false }), 403, 'FORBIDDEN_HOST')
    })

    it('a bad Host is refused before the token is even looked at', async () => {
      const res = await rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/x`, headers: { ...f.auth, host: 'evil.example' }, body: '{"obj":1}' })
      assertError(res, 403, 'FORBIDDEN_HOST')
      await assert.rejects(f.trove.getRef('x'), { code: 'REF_NOT_FOUND' })
    })

    it('every write without the right token is 401 and changes nothing', async () => {
      await f.trove.setRef('guarded/ref', 1)
      const usage = f.trove.store.getUsage()
      const bad = [undefined, 'Bearer wrong', `Basic ${f.token}`, `Bearer ${f.token}x`, 'Bearer']
      for (const authorization of bad) {
        const headers: Record<string, string> = authorization !== undefined ? { authorization } : {}
        const attempts = [
          rawRequest(f.url, { method: 'POST', path: `${V1}/blobs`, headers, body: randomBytes(1024 * 1024) }),
          rawRequest(f.url, { method: 'PUT', path: `${V1}/refs/guarded/ref`, headers, body: '{"obj":2}' }),
          rawRequest(f.url, { method: 'DELETE', path: `${V1}/refs/guarded/ref`, headers }),
          rawRequest(f.url, { method: 'PUT', path: `${V1}/pins/${smallSha1}`, headers }),
          rawRequest(f.url, { method: 'POST', path: `${V1}/verify`, headers })
        ]
        for (const res of await Promise.all(attempts)) {
          assertError(res, 401, 'UNAUTHORIZED')
          assert.match(String(res.headers['www-authenticate']), /^Bearer/)
        }
      }
      assert.deepEqual(f.trove.store.getUsage(), usage)
      assert.deepEqual(await fs.readdir(path.join(f.dir, 'tmp')), [])
      assert.equal((await f.trove.getRef('guarded/ref')).version, 1)
      assert.equal(await f.trove.refs.getPin(smallSha1), undefined)
    })

    it('reads need no token', async () => {
      const res = await rawRequest(f.url, { path: `${V1}/refs/guarded/ref` })
      assert.equal(res.status, 200)
    })
  })
})
