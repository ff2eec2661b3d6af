import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { writeDiscovery } from '../../src/api/discovery.js'
import { ApiUnavailableError, NotImplementedError, UnauthorizedError } from '../../src/api/errors.js'
import { connectToNode } from '../../src/cli/backend.js'
import {
  BlobNotFoundError, FileNotFoundError, InvalidArgumentError, InvalidKeyError, InvalidUriError,
  RangeNotSatisfiableError, RefNotFoundError, RefNotObjectError, VersionNotFoundError
} from '../../src/errors.js'
import { startApiFixture, type ApiFixture } from '../helpers/api-fixture.js'
import { collect } from '../helpers/trove.js'

/** Spans several 1 MiB read chunks of the upload stream. */
const FILE_SIZE = 3 * 1024 * 1024 + 11

function sha1 (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

describe('ApiClient against a running API', () => {
  let f: ApiFixture
  let client: ApiClient
  let file: string
  let content: Buffer
  let hash: string

  before(async () => {
    f = await startApiFixture()
    client = new ApiClient({ url: f.url, token: f.token }, { by: 'client@test' })
    content = randomBytes(FILE_SIZE)
    hash = sha1(content)
    file = path.join(f.dir, 'upload.bin')
    await fs.writeFile(file, content)
  })
  after(async () => {
    await client.close()
    await f.cleanup()
  })

  it('addFile streams a file with progress and answers what the embedded node would', async () => {
    const progress: number[] = []
    const res = await client.addFile(file, { onProgress: (n) => progress.push(n) })
    assert.deepEqual(res, { uri: `sha1://${hash}/upload.bin`, sha1: hash, size: FILE_SIZE, added: true, name: 'upload.bin' })
    assert.equal(progress.at(-1), FILE_SIZE)
    const embedded = await f.trove.addFile(file)
    assert.deepEqual(embedded, { ...res, added: false })
    await assert.rejects(client.addFile(path.join(f.dir, 'missing')), FileNotFoundError)
    await assert.rejects(client.addFile(f.dir), FileNotFoundError)
  })

  it('an aborted upload stops and the node stores nothing', { timeout: 30_000 }, async () => {
    const tmp = path.join(f.dir, 'tmp')
    const usage = f.trove.store.getUsage()
    const controller = new AbortController()
    let release: () => void = () => {}
    const stalled = new Promise<void>((resolve) => { release = resolve })
    async function * slowSource (): AsyncGenerator<Uint8Array> {
      yield randomBytes(1024 * 1024)
      await stalled // the rest never comes before the abort
    }
    const upload = client.addStream(slowSource(), { signal: controller.signal })
    // conditions, not timings: wait until the node is ingesting, abort, wait until it cleaned up
    while ((await fs.readdir(tmp)).length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    controller.abort()
    await assert.rejects(upload, { name: 'AbortError' })
    release()
    while ((await fs.readdir(tmp)).length > 0) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(f.trove.store.getUsage(), usage)
  })

  it('addFile pins and records a ref in one call', async () => {
    const other = path.join(f.dir, 'other.txt')
    await fs.writeFile(other, 'other')
    const res = await client.addFile(other, { pin: true, ref: 'added/other', refMeta: { priority: 4 } })
    const ref = await f.trove.getRef('added/other')
    assert.deepEqual(ref.obj, { 'other.txt': res.uri })
    assert.equal(ref.meta.priority, 4)
    assert.equal(ref.by, 'client@test')
    assert.equal((await f.trove.why(res.uri)).pinned, true)
  })

  it('cat streams the blob and ranges of it, refusing what the store refuses', async () => {
    assert.ok((await collect(await client.cat(`sha1://${hash}`))).equals(content))
    assert.ok((await collect(await client.cat(hash, { offset: 1_000_000, length: 2_000_000 }))).equals(content.subarray(1_000_000, 3_000_000)))
    assert.ok((await collect(await client.cat(hash, { offset: FILE_SIZE - 5 }))).equals(content.subarray(FILE_SIZE - 5)))
    for (const range of [{ offset: FILE_SIZE }, { offset: 3, length: 0 }, { offset: FILE_SIZE, length: 0 }]) {
      assert.equal((await collect(await client.cat(hash, range))).length, 0, JSON.stringify(range))
      assert.equal((await collect(await f.trove.cat(hash, range))).length, 0, JSON.stringify(range))
    }
    for (const range of [{ offset: FILE_SIZE + 1 }, { offset: FILE_SIZE - 1, length: 2 }, { offset: FILE_SIZE + 1, length: 0 }]) {
      await assert.rejects(client.cat(hash, range), RangeNotSatisfiableError, JSON.stringify(range))
      await assert.rejects(f.trove.cat(hash, range), RangeNotSatisfiableError, JSON.stringify(range))
    }
    await assert.rejects(client.cat(hash, { offset: -1 }), InvalidArgumentError)
    await assert.rejects(client.cat(`sha1://${sha1('nope')}`), BlobNotFoundError)
    await assert.rejects(client.cat('sha1://xyz'), InvalidUriError)
  })

  it('addStream stores a stream, pins it and records it under a ref, as the embedded node does', async () => {
    const bytes = Buffer.from('streamed content')
    const res = await client.addStream([bytes], { name: 'streamed.txt', pin: true, ref: 'streams/one', refMeta: { priority: 2 } })
    assert.deepEqual(res, { uri: `sha1://${sha1(bytes)}/streamed.txt`, sha1: sha1(bytes), size: bytes.length, added: true, name: 'streamed.txt' })
    const embedded = await f.trove.addStream([bytes], { name: 'streamed.txt', pin: true, ref: 'streams/one', refMeta: { priority: 2 } })
    assert.deepEqual(embedded, { ...res, added: false })
    const ref = await f.trove.getRef('streams/one')
    assert.deepEqual(ref.obj, { 'streamed.txt': res.uri })
    assert.equal(ref.meta.priority, 2)
    assert.equal(ref.version, 1, 'the same file again changes nothing')
    assert.equal(ref.by, 'client@test')
    assert.equal((await f.trove.why(res.uri)).pinned, true)
    const progress: number[] = []
    await client.addStream([bytes, bytes], { onProgress: (n) => progress.push(n) })
    assert.equal(progress.at(-1), 2 * bytes.length)
  })

  it('addStream refuses a ref that cannot take a file before anything is stored, on both backends', async () => {
    await client.setRef('streams/scalar', 'not an object')
    const usage = f.trove.store.getUsage()
    const other = Buffer.from('never stored')
    await assert.rejects(client.addStream([other], { name: 'x', ref: 'streams/scalar' }), RefNotObjectError)
    await assert.rejects(f.trove.addStream([other], { name: 'x', ref: 'streams/scalar' }), RefNotObjectError)
    await assert.rejects(client.addStream([other], { ref: 'bad//key' }), InvalidKeyError)
    await assert.rejects(f.trove.addStream([other], { ref: 'bad//key' }), InvalidKeyError)
    assert.deepEqual(f.trove.store.getUsage(), usage)
    assert.equal(await f.trove.store.has(sha1(other)), false)
  })

  it('fetchBlob says the size of a stored blob and refuses a missing one, on both backends', async () => {
    assert.deepEqual(await client.fetchBlob(`sha1://${hash}/upload.bin`), { sha1: hash, size: FILE_SIZE })
    assert.deepEqual(await f.trove.fetchBlob(`sha1://${hash}/upload.bin`), { sha1: hash, size: FILE_SIZE })
    await assert.rejects(client.fetchBlob(sha1('nowhere')), BlobNotFoundError)
    await assert.rejects(f.trove.fetchBlob(sha1('nowhere')), BlobNotFoundError)
    await assert.rejects(client.fetchBlob('sha1://xyz'), InvalidUriError)
    await assert.rejects(f.trove.fetchBlob('sha1://xyz'), InvalidUriError)
  })

  it('listPins lists what the embedded node lists', async () => {
    const before = await client.listPins()
    assert.deepEqual(before, await f.trove.listPins())
    const small = await client.addStream([Buffer.from('pinned for the list')], { pin: true })
    const after = await client.listPins()
    assert.deepEqual(after, await f.trove.listPins())
    assert.equal(after.length, before.length + 1)
    const pin = after.find((p) => p.sha1 === small.sha1)
    assert.equal(pin?.by, 'client@test')
    assert.deepEqual(after.map((p) => p.sha1), [...after.map((p) => p.sha1)].sort(), 'in blob order')
    await client.unpin(small.sha1)
    assert.deepEqual(await client.listPins(), before)
  })

  it('refs: set, get, versions, history, rm, with the same errors as embedded', async () => {
    const v1 = await client.setRef('c/lab/run', { out: `sha1://${hash}` }, { priority: 1 })
    assert.equal(v1.version, 1)
    assert.equal(v1.by, 'client@test')
    const v2 = await client.setRef('c/lab/run', { out: 2 }, {}, { by: 'someone@else' })
    assert.equal(v2.by, 'someone@else')
    assert.deepEqual(await client.getRef('c/lab/run'), await f.trove.getRef('c/lab/run'))
    assert.deepEqual((await client.getRef('c/lab/run', { version: 1 })).obj, { out: `sha1://${hash}` })
    assert.deepEqual(await client.rmRef('c/lab/run'), { key: 'c/lab/run', version: 3 })
    assert.deepEqual(await client.refHistory('c/lab/run'), await f.trove.refHistory('c/lab/run'))
    await assert.rejects(client.getRef('c/lab/run'), RefNotFoundError)
    await assert.rejects(client.getRef('c/lab/run', { version: 3 }), VersionNotFoundError)
    await assert.rejects(client.rmRef('c/lab/run'), RefNotFoundError)
    await assert.rejects(client.setRef('bad//key', 1), InvalidKeyError)
    await assert.rejects(client.getRef('..'), InvalidKeyError)
    await assert.rejects(client.setRef('c/x', { bad: 'sha1://short' }), InvalidUriError)
    await assert.rejects(client.setRef('c/x', 1, { priority: 1.5 }), InvalidArgumentError)
  })

  it('refs whose last segment is "history" work through the client', async () => {
    await client.setRef('c/history', 'h1')
    await client.setRef('c/history', 'h2')
    assert.equal((await client.getRef('c/history')).obj, 'h2')
    assert.deepEqual((await client.refHistory('c/history')).map((e) => e.obj), ['h1', 'h2'])
  })

  it('listRefs pages, filters by prefix, refsTo and meta', async () => {
    for (const k of ['p/a', 'p/b', 'p/c']) await client.setRef(k, k === 'p/b' ? `sha1://${hash}` : k, { priority: k === 'p/c' ? 7 : 0, tag: 'five' })
    const page1 = await client.listRefs({ prefix: 'p/', limit: 2 })
    assert.deepEqual(page1.refs.map((r) => r.key), ['p/a', 'p/b'])
    const page2 = await client.listRefs({ prefix: 'p/', limit: 2, cursor: page1.cursor })
    assert.deepEqual(page2.refs.map((r) => r.key), ['p/c'])
    assert.equal(page2.cursor, undefined)
    assert.deepEqual((await client.listRefs({ refsTo: `sha1://${hash}`, prefix: 'p/' })).refs.map((r) => r.key), ['p/b'])
    assert.deepEqual((await client.listRefs({ meta: { priority: 7, tag: 'five' } })).refs.map((r) => r.key), ['p/c'])
    assert.deepEqual(await client.listRefs({ prefix: 'p/' }), await f.trove.listRefs({ prefix: 'p/' }))
  })

  it('pin, unpin and why', async () => {
    const pin = await client.pin(`sha1://${hash}/upload.bin`)
    assert.equal(pin.sha1, hash)
    assert.equal(pin.by, 'client@test')
    assert.deepEqual(await client.why(hash), await f.trove.why(hash))
    assert.deepEqual(await client.unpin(hash), { sha1: hash, unpinned: true })
    assert.deepEqual(await client.unpin(hash), { sha1: hash, unpinned: false })
    await assert.rejects(client.pin(sha1('absent')), BlobNotFoundError)
    await assert.rejects(client.why('nope'), InvalidUriError)
  })

  it('status, verify, peers, transfers, gc', async () => {
    const st = await client.status()
    assert.equal(st.mode, 'node')
    assert.deepEqual(st.usage, (await f.trove.status()).usage)
    const report = await client.verify()
    assert.equal(report.ok, true)
    assert.ok(report.checked >= 1)
    assert.deepEqual(await client.peers(), await f.trove.peers())
    assert.deepEqual(await client.transfers(), f.trove.transfers())
    if (typeof (f.trove as unknown as { gc?: unknown }).gc !== 'function') {
      await assert.rejects(client.gc({ dryRun: true }), NotImplementedError)
    }
  })

  it('fetchMany answers what the node answers (local ones counted, missing ones listed)', async () => {
    const uris = [`sha1://${hash}`, `sha1://${sha1('not anywhere')}`]
    const res = await client.fetchMany(uris)
    assert.deepEqual(res, await f.trove.fetchMany(uris))
    assert.equal(res.local, 1)
    assert.deepEqual(res.failed.map((x) => x.code), ['BLOB_NOT_FOUND'])
    await assert.rejects(client.fetchMany(['nope']), InvalidUriError)
  })

  it('without the right token writes fail with UnauthorizedError and change nothing; reads work', async () => {
    const intruder = new ApiClient({ url: f.url, token: 'wrong' })
    const anonymous = new ApiClient({ url: f.url })
    for (const c of [intruder, anonymous]) {
      await assert.rejects(c.setRef('c/intruded', 1), UnauthorizedError)
      await assert.rejects(c.addFile(file), UnauthorizedError)
      await assert.rejects(c.rmRef('p/a'), UnauthorizedError)
      assert.equal((await c.getRef('p/a')).key, 'p/a')
    }
    await assert.rejects(f.trove.getRef('c/intruded'), RefNotFoundError)
  })

  it('an unreachable node is ApiUnavailableError', async () => {
    const gone = new ApiClient({ url: 'http://127.0.0.1:1', token: 't' })
    await assert.rejects(gone.status(), ApiUnavailableError)
  })
})

describe('finding a running node (CLI backend)', () => {
  let f: ApiFixture
  before(async () => { f = await startApiFixture() })
  after(async () => { await f.cleanup() })

  it('uses the API named in api.json when its process lives and it serves this data directory', async () => {
    assert.equal(await connectToNode(f.dir), undefined, 'no api.json yet')
    await writeDiscovery(f.dir, { url: f.url, pid: process.pid, startedAt: new Date().toISOString() })
    const client = await connectToNode(f.dir)
    assert.ok(client instanceof ApiClient)
    assert.equal((await client.setRef('found/it', 1)).version, 1, 'writes carry the data directory\'s token')
  })

  it('ignores api.json whose process is gone, whose URL is dead, or that serves another directory', async () => {
    const deadPid = 2 ** 22 + 12345 // above Linux's pid_max, so no such process
    await writeDiscovery(f.dir, { url: f.url, pid: deadPid, startedAt: new Date().toISOString() })
    assert.equal(await connectToNode(f.dir), undefined)
    await writeDiscovery(f.dir, { url: 'http://127.0.0.1:1', pid: process.pid, startedAt: new Date().toISOString() })
    assert.equal(await connectToNode(f.dir), undefined)
    const other = await fs.mkdtemp(path.join(f.dir, 'other-'))
    await writeDiscovery(other, { url: f.url, pid: process.pid, startedAt: new Date().toISOString() })
    assert.equal(await connectToNode(other), undefined)
    await fs.writeFile(path.join(f.dir, 'api.json'), '{not json')
    assert.equal(await connectToNode(f.dir), undefined)
  })
})
