import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import type { AddDirProgress } from '../../src/ops.js'
import { rawRequest, startApiFixture, startOldNodeStub, type ApiFixture } from '../helpers/api-fixture.js'
import { makeTree } from '../helpers/dirs.js'
import { tempDir } from '../helpers/tmp.js'

const V1 = '/api/v1'
/** The `nested` vector of docs/formats.md. */
const NESTED = { 'top.txt': 'top\n', 'a/b/c.txt': 'hello\n', 'a/empty/': null }
const NESTED_ROOT = '0be717621ff7b3d57f7afc237c7957e514e9f26d'

describe('POST /dirs/import: the node adds a directory by local path', () => {
  let f: ApiFixture
  let work: { dir: string, cleanup: () => Promise<void> }
  let tree: string

  before(async () => {
    f = await startApiFixture()
    work = await tempDir('trove-dir-import-')
    tree = path.join(work.dir, 'nested')
    await makeTree(tree, NESTED)
  })
  after(async () => {
    await f.cleanup()
    await work.cleanup()
  })

  async function post (body: unknown, headers: Record<string, string> = f.auth): Promise<Awaited<ReturnType<typeof rawRequest>>> {
    return rawRequest(f.url, { method: 'POST', path: `${V1}/dirs/import`, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  }
  const code = (res: Awaited<ReturnType<typeof rawRequest>>): string => (JSON.parse(res.body.toString()) as { error: { code: string } }).error.code

  it('refuses a request without the token, and bad input with a stable code, before anything is stored', async () => {
    const usage = f.trove.store.getUsage()
    const linked = path.join(work.dir, 'linked')
    await makeTree(linked, { 'real.txt': 'real' })
    await fs.symlink('real.txt', path.join(linked, 'link.txt'))
    const noToken = await post({ path: tree }, {})
    assert.equal(noToken.status, 401)
    const cases: Array<[unknown, number, string]> = [
      [{ path: 'relative/dir' }, 400, 'INVALID_ARGUMENT'],
      [{ path: tree, extra: 1 }, 400, 'INVALID_ARGUMENT'],
      [{ path: tree, followSymlinks: 'yes' }, 400, 'INVALID_ARGUMENT'],
      [{ path: path.join(tree, 'top.txt') }, 400, 'FILE_NOT_FOUND'],
      [{ path: path.join(work.dir, 'missing') }, 400, 'FILE_NOT_FOUND'],
      [{ path: linked }, 400, 'INVALID_DIR_ENTRY'],
      [{ path: tree, ref: '/bad key' }, 400, 'INVALID_KEY'],
      [{ path: tree, meta: { priority: 1 } }, 400, 'INVALID_ARGUMENT'],
      [{ path: path.dirname(f.trove.dataDir) }, 400, 'INVALID_ARGUMENT']
    ]
    for (const [body, status, want] of cases) {
      const res = await post(body)
      assert.equal(res.status, status, JSON.stringify(body))
      assert.equal(code(res), want, JSON.stringify(body))
    }
    assert.deepEqual(f.trove.store.getUsage(), usage, 'nothing was stored')
  })

  it('answers the tree as JSON, and records it under a ref, pinned', async () => {
    const res = await post({ path: tree, ref: 'lab/dirs', pin: true, meta: { priority: 3 } })
    assert.equal(res.status, 200, res.body.toString())
    const result = JSON.parse(res.body.toString())
    assert.deepEqual(result, { uri: `sha1dir://${NESTED_ROOT}`, sha1: NESTED_ROOT, name: 'nested', files: 2, dirs: 4, bytes: 10, entry: 'nested' })
    const ref = await f.trove.getRef('lab/dirs')
    assert.deepEqual(ref.obj, { nested: `sha1dir://${NESTED_ROOT}` })
    assert.equal(ref.meta.priority, 3)
    assert.equal((await f.trove.why(NESTED_ROOT)).pinned, true)
  })

  it('streams progress lines then the result with Accept: application/x-ndjson', async () => {
    const res = await post({ path: tree }, { ...f.auth, accept: 'application/x-ndjson' })
    assert.equal(res.status, 200)
    const lines = res.body.toString().trim().split('\n').map((l) => JSON.parse(l))
    assert.equal(lines.at(-1).result.sha1, NESTED_ROOT)
    for (const l of lines.slice(0, -1)) assert.deepEqual(Object.keys(l), ['progress'])
  })

  it('ApiClient.addDir imports through the node, with progress', async () => {
    const client = new ApiClient({ url: f.url, token: f.token })
    const progress: AddDirProgress[] = []
    const r = await client.addDir(tree, { onProgress: (p) => progress.push(p) })
    assert.equal(r.uri, `sha1dir://${NESTED_ROOT}`)
    assert.ok(progress.length <= 1, 'progress lines are throttled')
    await assert.rejects(client.addDir(tree, { ref: '/bad key' }), { code: 'INVALID_KEY' })
  })
})

describe('ApiClient.addDir with a node that cannot read the path', () => {
  it('walks the tree itself and sends each file and manifest over POST /blobs', async () => {
    const { dir, cleanup } = await tempDir('trove-dir-import-stub-')
    const tree = path.join(dir, 'nested')
    await makeTree(tree, NESTED)
    const stub = await startOldNodeStub()
    try {
      const client = new ApiClient({ url: stub.url, token: 't' })
      const r = await client.addDir(tree)
      assert.equal(r.sha1, NESTED_ROOT)
      assert.deepEqual({ files: r.files, dirs: r.dirs, bytes: r.bytes }, { files: 2, dirs: 4, bytes: 10 })
      assert.equal(stub.seen[0], `POST ${V1}/dirs/import`)
      assert.equal(stub.seen.filter((s) => s === `POST ${V1}/blobs`).length, 6, 'two files and four manifests')
      assert.ok(stub.stored.has(NESTED_ROOT), 'the root manifest was sent')
    } finally {
      stub.close()
      await cleanup()
    }
  })
})
