import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { FileNotFoundError } from '../../src/errors.js'
import type { AddOptions, AddResult } from '../../src/ops.js'
import { rawRequest, startApiFixture, startOldNodeStub, type ApiFixture } from '../helpers/api-fixture.js'
import { tempDir } from '../helpers/tmp.js'

const V1 = '/api/v1'
/** Several 2 MiB hash steps of the kernel copy, so progress comes in more than one line. */
const BIG_SIZE = 5 * 1024 * 1024 + 3

function sha1 (bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex')
}

describe('POST /blobs/import: the node adds files by local path', () => {
  let f: ApiFixture
  let files: { dir: string, cleanup: () => Promise<void> }
  let big: Buffer
  let bigFile: string
  let xa: string
  let xb: string
  /** Calls of the node's addFiles, so a test can tell the import from a streamed upload. */
  const calls: string[][] = []

  before(async () => {
    f = await startApiFixture()
    const addFiles = f.trove.addFiles.bind(f.trove)
    f.trove.addFiles = async (paths: string[], options?: AddOptions) => {
      calls.push(paths)
      return addFiles(paths, options)
    }
    files = await tempDir('trove-import-')
    big = randomBytes(BIG_SIZE)
    bigFile = path.join(files.dir, 'big.bin')
    await fs.writeFile(bigFile, big)
    await fs.mkdir(path.join(files.dir, 'a'))
    await fs.mkdir(path.join(files.dir, 'b'))
    xa = path.join(files.dir, 'a', 'x.txt')
    xb = path.join(files.dir, 'b', 'x.txt')
    await fs.writeFile(xa, 'x in a')
    await fs.writeFile(xb, 'x in b')
  })
  after(async () => {
    await f.cleanup()
    await files.cleanup()
  })

  async function post (body: unknown, headers: Record<string, string> = f.auth): Promise<Awaited<ReturnType<typeof rawRequest>>> {
    return rawRequest(f.url, { method: 'POST', path: `${V1}/blobs/import`, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  }

  it('refuses a request without the token, and bad paths with a stable code, before anything is stored', async () => {
    const before = f.trove.store.getUsage()
    const cases: Array<[unknown, Record<string, string> | undefined, number, string]> = [
      [{ paths: [bigFile] }, {}, 401, 'UNAUTHORIZED'],
      [{ paths: ['big.bin'] }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: [`${bigFile}\0.txt`] }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: [] }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: bigFile }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: [files.dir] }, undefined, 400, 'FILE_NOT_FOUND'],
      [{ paths: [path.join(files.dir, 'missing.bin')] }, undefined, 400, 'FILE_NOT_FOUND'],
      // the good first file is not stored either: every path is checked first
      [{ paths: [bigFile, path.join(files.dir, 'missing.bin')] }, undefined, 400, 'FILE_NOT_FOUND'],
      [{ paths: [bigFile], ref: '/bad key' }, undefined, 400, 'INVALID_KEY'],
      [{ paths: [bigFile], pin: 'yes' }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: [bigFile], meta: { priority: 1 } }, undefined, 400, 'INVALID_ARGUMENT'],
      [{ paths: [bigFile], path: bigFile }, undefined, 400, 'INVALID_ARGUMENT']
    ]
    for (const [body, headers, status, code] of cases) {
      const res = await post(body, headers)
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.body.toString()}`)
      assert.equal(res.json().error.code, code, JSON.stringify(body))
    }
    assert.deepEqual(f.trove.store.getUsage(), before)
    assert.deepEqual(calls, [])
  })

  it('stores a file through addFiles and answers its result as JSON', async () => {
    const res = await post({ paths: [bigFile] })
    assert.equal(res.status, 200, res.body.toString())
    const [r] = res.json().results as AddResult[]
    assert.equal(r.sha1, sha1(big))
    assert.equal(r.uri, `sha1://${sha1(big)}/big.bin`)
    assert.equal(r.size, BIG_SIZE)
    assert.equal((await f.trove.blobInfo(r.sha1)).local, true)
    assert.deepEqual(calls.at(-1), [bigFile])
  })

  it('streams progress lines then the results with Accept: application/x-ndjson; --ref keeps both same-named files, pinned', async () => {
    const res = await post({ paths: [xa, xb, bigFile], ref: 'lab/import', pin: true, meta: { priority: 2 } }, { ...f.auth, accept: 'application/x-ndjson' })
    assert.equal(res.status, 200, res.body.toString())
    assert.match(String(res.headers['content-type']), /application\/x-ndjson/)
    const lines = res.body.toString().trim().split('\n').map((l) => JSON.parse(l))
    const last = lines.pop()
    assert.ok(lines.length > 1, 'progress lines before the result')
    for (const l of lines) assert.deepEqual(Object.keys(l), ['progress'])
    assert.deepEqual(lines.filter((l) => l.progress.file === 2).at(-1).progress.bytes, BIG_SIZE)
    const results = last.results as AddResult[]
    assert.deepEqual(results.map((r) => r.entry), ['a/x.txt', 'b/x.txt', 'big.bin'])
    const ref = await f.trove.getRef('lab/import')
    assert.deepEqual(ref.obj, { 'a/x.txt': results[0].uri, 'b/x.txt': results[1].uri, 'big.bin': results[2].uri })
    assert.equal(ref.meta.priority, 2)
    for (const r of results) assert.equal((await f.trove.why(r.uri)).pinned, true)
  })

  it('a failure while storing is the last line of the stream', async () => {
    await f.trove.setRef('lab/scalar', 5)
    const bad = await post({ paths: [xa], ref: 'lab/scalar' }, { ...f.auth, accept: 'application/x-ndjson' })
    assert.equal(bad.status, 200)
    const last = JSON.parse(bad.body.toString().trim().split('\n').at(-1) ?? '')
    assert.equal(last.error.code, 'REF_NOT_OBJECT')
  })

  it('ApiClient.addFiles imports through the node, with progress per file', async () => {
    const client = new ApiClient({ url: f.url, token: f.token })
    const progress: Array<[number, number | undefined]> = []
    calls.length = 0
    const results = await client.addFiles([xa, bigFile], { onProgress: (bytes, file) => { progress.push([bytes, file]) } })
    assert.deepEqual(calls, [[xa, bigFile]], 'one import, no upload')
    assert.deepEqual(results.map((r) => r.uri), [`sha1://${sha1('x in a')}/x.txt`, `sha1://${sha1(big)}/big.bin`])
    assert.deepEqual(progress.at(-1), [BIG_SIZE, 1])
    // a path the node refuses as a path is refused the same way here
    await assert.rejects(client.addFiles([path.join(files.dir, 'nope')]), FileNotFoundError)
    await assert.rejects(client.addFiles([bigFile], { ref: '/bad key' }), { code: 'INVALID_KEY' })
    await assert.rejects(client.addFile(files.dir), FileNotFoundError)
  })
})

describe('ApiClient.addFiles with a node that cannot read the path', () => {
  it('sends the bytes over POST /blobs instead, nothing lost', async () => {
    const { dir, cleanup } = await tempDir('trove-import-stub-')
    const file = path.join(dir, 'data.bin')
    const content = randomBytes(300_000)
    await fs.writeFile(file, content)
    const stub = await startOldNodeStub()
    try {
      const client = new ApiClient({ url: stub.url, token: 't' })
      const bytes: number[] = []
      const r = await client.addFile(file, { onProgress: (n) => bytes.push(n) })
      assert.deepEqual(stub.seen, [`POST ${V1}/blobs/import`, `POST ${V1}/blobs`])
      assert.equal(r.sha1, sha1(content))
      assert.equal(r.uri, `sha1://${sha1(content)}/data.bin`)
      assert.equal(bytes.at(-1), content.length)
    } finally {
      stub.close()
      await cleanup()
    }
  })
})
