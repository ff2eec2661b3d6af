import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { ensureApiToken } from '../../src/api/token.js'
import { FileNotWritableError } from '../../src/errors.js'
import { Exec, errorCode as codeOf, readTree, storeTree, tempSiblings, type TreeSpec } from '../helpers/dirs.js'
import { isConnected, spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

const TREE: TreeSpec = {
  'README.md': '# results\n',
  data: { 'a.csv': 'x,y\n1,2\n', 'b.csv': 'x,y\n3,4\n', nested: { 'deep.txt': 'deep' } },
  scripts: { 'run.sh': new Exec('#!/bin/sh\nexit 0\n') },
  empty: {}
}

async function collect (stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

describe('dirs: two nodes on loopback', () => {
  let nodes: TestNode[] = []
  let a: TestNode
  let b: TestNode
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let root: { sha1: string, size: number, uri: string }
  let big: Buffer

  before(async () => {
    nodes = await spawnNodes(2, { topology: 'star' })
    ;[a, b] = nodes
    await waitFor(() => isConnected(b, a), 10_000, 'the nodes to connect')
    tmp = await tempDir('trove-dirs-it-')
    // one file large enough to travel in verified chunks
    big = randomBytes(3 * 1024 * 1024 + 17)
    root = await storeTree(a.trove, { ...TREE, 'big.bin': big })
  })
  after(async () => {
    await stopNodes(nodes)
    await tmp?.cleanup()
  })

  it('lists a tree held by a peer (fetching its manifests), gets it whole, and lists it as local afterwards', async () => {
    const listing = await b.trove.listDir(root.uri)
    assert.equal(listing.kind, 'dir')
    assert.deepEqual(listing.entries.map((e) => [e.name, e.kind, e.local]), [
      ['README.md', 'file', false], ['big.bin', 'file', false], ['data', 'dir', false], ['empty', 'dir', false], ['scripts', 'dir', false]
    ])
    const dest = path.join(tmp.dir, 'whole')
    const res = await b.trove.getDir(root.uri, dest)
    assert.equal(res.files, 6)
    assert.ok(res.fetched > 0)
    const { 'big.bin': _big, ...rest } = await readTree(dest)
    assert.deepEqual(rest, TREE)
    assert.ok(Buffer.from(await fs.readFile(path.join(dest, 'big.bin'))).equals(big))
    assert.ok(((await fs.stat(path.join(dest, 'scripts', 'run.sh'))).mode & 0o100) !== 0)
    assert.deepEqual(await tempSiblings(tmp.dir, 'whole'), [])
    const again = await b.trove.listDir(root.uri)
    assert.ok(again.entries.every((e) => e.local))
  })

  it('gets a subdirectory, and reads one file inside (whole and a range)', async () => {
    const fresh = await storeTree(a.trove, { x: { 'y.txt': 'why', z: { 'w.txt': 'double-u' } } })
    const dest = path.join(tmp.dir, 'sub')
    await b.trove.getDir(`${fresh.uri}/x/z`, dest)
    assert.deepEqual(await readTree(dest), { 'w.txt': 'double-u' })
    assert.equal((await collect(await b.trove.cat(`${fresh.uri}/x/y.txt`))).toString(), 'why')
    assert.equal((await collect(await b.trove.cat(`${root.uri}/big.bin`, { offset: 100, length: 50 }))).toString('hex'), big.subarray(100, 150).toString('hex'))
    assert.equal(await codeOf(b.trove.cat(`${fresh.uri}/x`)), 'IS_A_DIRECTORY')
    assert.equal(await codeOf(b.trove.cat(`${fresh.uri}/nope`)), 'DIR_PATH_NOT_FOUND')
  })

  it('resumes after an abort mid-get: the rerun fetches only what is missing', async () => {
    const spec: TreeSpec = {}
    for (let d = 0; d < 4; d++) {
      const folder: TreeSpec = {}
      for (let f = 0; f < 100; f++) folder[`f${f}.bin`] = randomBytes(512).toString('hex')
      spec[`d${d}`] = folder
    }
    const tree = await storeTree(a.trove, spec)
    const dest = path.join(tmp.dir, 'resumed')
    const controller = new AbortController()
    const first = b.trove.getDir(tree.uri, dest, {
      signal: controller.signal,
      onProgress: (p) => { if (p.phase === 'fetch' && p.files >= 50) controller.abort() }
    })
    await assert.rejects(first)
    assert.equal(await fs.stat(dest).then(() => true, () => false), false)
    assert.deepEqual(await tempSiblings(tmp.dir, 'resumed'), [])
    const second = await b.trove.getDir(tree.uri, dest)
    assert.equal(second.files, 400)
    assert.ok(second.fetched < 400, `the rerun fetched ${second.fetched} of 400 files`)
    assert.deepEqual(await readTree(dest), spec)
  })

  it('refuses a forged manifest served by a peer (".." names; its sha1 matches because it is the blob) before writing anything', async () => {
    const victim = await a.trove.add([Buffer.from('owned')])
    const forged = Buffer.from(`{"entries":[{"exec":false,"kind":"file","name":"..","sha1":"${victim.sha1}","size":5}],"type":"trove/dir","version":1}`)
    const put = await a.trove.add([forged])
    const dest = path.join(tmp.dir, 'forged', 'inner')
    assert.equal(await codeOf(b.trove.getDir(`sha1dir://${put.sha1}`, dest)), 'INVALID_DIR_MANIFEST')
    assert.equal(await fs.stat(dest).then(() => true, () => false), false)
    assert.deepEqual(await fs.readdir(path.join(tmp.dir, 'forged')), [])
    assert.equal(await codeOf(b.trove.listDir(`sha1dir://${put.sha1}`)), 'INVALID_DIR_MANIFEST')
  })

  describe('through the HTTP API of the fetching node', () => {
    let server: ApiServer
    let client: ApiClient
    before(async () => {
      const token = await ensureApiToken(b.dir)
      server = await startApiServer({ ops: b.trove, node: b.trove }, { port: 0, token })
      client = new ApiClient({ url: server.url, token })
    })
    after(async () => { await server?.close() })

    it('lists (paged), serves a file inside with Range, and fetches and writes a tree with progress', async () => {
      const spec: TreeSpec = { 'one.txt': '1', 'two.txt': '22', 'thr ee%.txt': '333', sub: { 'four.txt': '4444' } }
      const tree = await storeTree(a.trove, spec)
      const page = await client.listDir(tree.uri, { limit: 2 })
      assert.equal(page.entries.length, 2)
      assert.equal(page.total, 4)
      const rest = await client.listDir(tree.uri, { cursor: page.next })
      assert.deepEqual([...page.entries, ...rest.entries].map((e) => e.name), ['one.txt', 'sub', 'thr ee%.txt', 'two.txt'])

      const res = await fetch(`${server.url}/api/v1/dirs/${tree.sha1}/${encodeURIComponent('thr ee%.txt')}`, { headers: { range: 'bytes=1-' } })
      assert.equal(res.status, 206)
      assert.equal(await res.text(), '33')
      const file = await client.listDir(`${tree.uri}/sub/four.txt`)
      assert.equal(file.kind, 'file')
      assert.equal((await collect(await client.cat(`${tree.uri}/sub/four.txt`, { offset: 1, length: 2 }))).toString(), '44')
      assert.equal(await codeOf(client.cat(`${tree.uri}/sub`)), 'IS_A_DIRECTORY')

      const phases = new Set<string>()
      const dest = path.join(tmp.dir, 'via-api')
      const got = await client.getDir(tree.uri, dest, { onProgress: (p) => phases.add(p.phase) })
      assert.equal(got.files, 4)
      assert.ok(phases.has('write'))
      assert.deepEqual(await readTree(dest), spec)
      assert.equal(await codeOf(client.getDir(tree.uri, dest)), 'FILE_EXISTS')
      assert.equal((await client.getDir(tree.uri, dest, { force: true })).replaced, true)

      const unauth = await fetch(`${server.url}/api/v1/dirs/${tree.sha1}/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      assert.equal(unauth.status, 401)
      const made = await client.fetchDir(tree.uri)
      assert.equal(made.fetched, 0)
    })

    it('falls back to writing the tree in the client when the node may not write there', async () => {
      const spec: TreeSpec = { 'k.txt': 'kay', deep: { 'x.sh': new Exec('#!/bin/sh\n') } }
      const tree = await storeTree(a.trove, spec)
      // a node whose user may not write the destination (the tests run as root, so refused by hand)
      const ops = Object.create(b.trove) as typeof b.trove
      ops.getDir = async () => { throw new FileNotWritableError('the node may not write there') }
      const token = await ensureApiToken(b.dir)
      const refusing = await startApiServer({ ops, node: b.trove }, { port: 0, token })
      try {
        const viaClient = new ApiClient({ url: refusing.url, token })
        const dest = path.join(tmp.dir, 'fallback', 'tree')
        const got = await viaClient.getDir(tree.uri, dest)
        assert.equal(got.files, 2)
        assert.deepEqual(await readTree(dest), spec)
        assert.equal(await codeOf(viaClient.getDir(tree.uri, dest)), 'FILE_EXISTS')
      } finally {
        await refusing.close()
      }
    })
  })
})
