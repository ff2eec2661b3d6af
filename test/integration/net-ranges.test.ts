import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { ensureApiToken } from '../../src/api/token.js'
import { RangeNotSatisfiableError } from '../../src/errors.js'
import type { Trove } from '../../src/node.js'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { rawRequest } from '../helpers/api-fixture.js'
import { connect, overwriteStored, sha1OfStored, spawnNodes, stopNodes, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Five whole chunks and a short sixth: a large blob, fetched in chunks. */
const SIZE = 5 * CHUNK_SIZE + 12_345

async function collect (stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of stream) parts.push(p)
  return Buffer.concat(parts)
}

function served (node: TestNode): number {
  return node.trove.network!.fetchProtocol.bytesServed
}

async function doneChunks (trove: Trove, sha1: string): Promise<number[]> {
  return [...(await trove.db.partials.get(sha1))?.done ?? []].sort((a, b) => a - b)
}

interface Setup {
  nodes: TestNode[]
  file: string
  /** The blob's bytes and hash; node 0 holds it. */
  data: Buffer
  sha1: string
  cleanup: () => Promise<void>
}

/** `n` nodes, none connected; node 0 stores a random large blob. */
async function setUp (n: number): Promise<Setup> {
  const src = await tempDir('trove-src-')
  const nodes = await spawnNodes(n, { topology: 'none' }).catch(async (err: unknown) => { await src.cleanup(); throw err })
  const file = path.join(src.dir, 'big.bin')
  const cleanup = async (): Promise<void> => {
    await stopNodes(nodes)
    await src.cleanup()
  }
  try {
    await writeRandomFile(file, SIZE)
    const { sha1 } = await nodes[0].trove.addFile(file)
    return { nodes, file, data: await fs.readFile(file), sha1, cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}

/** The Trove's API on a free loopback port, and a client of it. */
async function apiOf (trove: Trove): Promise<{ server: ApiServer, client: ApiClient }> {
  const token = await ensureApiToken(trove.dataDir)
  const server = await startApiServer({ ops: trove, node: trove }, { port: 0, token })
  return { server, client: new ApiClient({ url: server.url, token }) }
}

describe('network: byte ranges of remote blobs', () => {
  let setup: Setup | undefined
  let provider: TestNode
  let reader: TestNode
  let data: Buffer
  let sha1: string

  before(async () => {
    setup = await setUp(2)
    ;({ data, sha1, nodes: [provider, reader] } = setup)
    await connect(reader, provider)
  })

  after(async () => { await setup?.cleanup() })

  it('a range fetches only the chunks that cover it, keeps them as a partial download, and a full fetch resumes from them', async () => {
    const uri = `sha1://${sha1}`
    const cases = [
      { what: 'inside one chunk', offset: CHUNK_SIZE + 100, length: 1000, chunks: [1] },
      { what: 'across a chunk boundary', offset: 3 * CHUNK_SIZE - 10, length: 20, chunks: [2, 3] },
      { what: 'at the end', offset: SIZE - 5, length: 5, chunks: [5] },
      { what: 'again inside a chunk kept', offset: CHUNK_SIZE + 5000, length: 77, chunks: [] }
    ]
    for (const c of cases) {
      const before = served(provider)
      const fetchedBefore = reader.trove.network!.fetcher.rangeChunksFetched
      const got = await collect(await reader.trove.cat(uri, { offset: c.offset, length: c.length }))
      assert.ok(got.equals(data.subarray(c.offset, c.offset + c.length)), c.what)
      assert.equal(reader.trove.network!.fetcher.rangeChunksFetched - fetchedBefore, c.chunks.length, c.what)
      // the chunks themselves, plus at most the manifest the first time
      const sent = served(provider) - before
      assert.ok(sent >= c.chunks.length * Math.min(CHUNK_SIZE, 12_345) && sent <= c.chunks.length * CHUNK_SIZE + 64 * 1024, `${c.what}: ${sent} bytes sent`)
    }
    assert.deepEqual(await doneChunks(reader.trove, sha1), [1, 2, 3, 5])
    assert.equal(await reader.trove.store.has(sha1), false, 'a range does not make the blob local')

    assert.equal((await collect(await reader.trove.cat(uri, { offset: 2 * CHUNK_SIZE, length: 0 }))).length, 0)
    await assert.rejects(reader.trove.cat(uri, { offset: SIZE + 1, length: 0 }), RangeNotSatisfiableError)
    await assert.rejects(reader.trove.cat(uri, { offset: SIZE - 10, length: 11 }), RangeNotSatisfiableError)
    await assert.rejects(reader.trove.cat(uri, { offset: -1, length: 1 }), { name: 'InvalidArgumentError' })

    // the full fetch transfers only chunks 0 and 4, and the blob verifies
    const before = served(provider)
    await reader.trove.ensureLocal(uri)
    assert.equal(served(provider) - before, 2 * CHUNK_SIZE)
    assert.equal(await sha1OfStored(reader.trove.store, sha1), sha1)
    assert.equal(await reader.trove.db.partials.get(sha1), undefined)
    const fromStore = await collect(await reader.trove.cat(uri, { offset: 4 * CHUNK_SIZE - 3, length: 6 }))
    assert.ok(fromStore.equals(data.subarray(4 * CHUNK_SIZE - 3, 4 * CHUNK_SIZE + 3)))
  })
})

describe('network: ranges through the HTTP API, HEAD and blob info', () => {
  let setup: Setup | undefined
  let nodes: TestNode[] = []
  let api: { server: ApiServer, client: ApiClient } | undefined
  let data: Buffer
  let sha1: string

  before(async () => {
    setup = await setUp(2)
    ;({ nodes, data, sha1 } = setup)
    await connect(nodes[1], nodes[0])
    api = await apiOf(nodes[1].trove)
  })

  after(async () => {
    await api?.server.close()
    await setup?.cleanup()
  })

  it('HEAD and info answer the size and the holders with no chunk transferred, on both backends', async () => {
    const [provider, reader] = nodes
    const before = served(provider)
    const head = await rawRequest(api!.server.url, { method: 'HEAD', path: `/api/v1/blobs/${sha1}` })
    assert.equal(head.status, 200)
    assert.equal(head.headers['content-length'], String(SIZE))
    const expected = { sha1, size: SIZE, local: false, providers: [provider.trove.peerId as string] }
    assert.deepEqual(await api!.client.blobInfo(sha1), expected)
    assert.deepEqual(await reader.trove.blobInfo(sha1), expected)
    assert.equal(served(provider), before, 'nothing was fetched')
    assert.equal(await reader.trove.store.has(sha1), false)
    assert.deepEqual(await reader.trove.db.partials.get(sha1), undefined)
    // a blob no one has: no size, no holders; with wait, the fetch's error
    const missing = randomBytes(20).toString('hex')
    assert.deepEqual(await api!.client.blobInfo(missing), { sha1: missing, local: false, providers: [] })
    await assert.rejects(api!.client.blobInfo(missing, { wait: true, timeoutMs: 200 }), { name: 'NoProvidersError' })
    assert.equal((await rawRequest(api!.server.url, { method: 'HEAD', path: `/api/v1/blobs/${missing}?timeoutMs=200` })).status, 404)
    assert.equal((await rawRequest(api!.server.url, { path: '/api/v1/blobs/xyz/info' })).status, 400)
    // a stored blob: its own size, its known holders
    assert.deepEqual(await provider.trove.blobInfo(sha1), { sha1, size: SIZE, local: true, providers: [] })
  })

  it('a Range request and `cat` through the client fetch only the covering chunks', async () => {
    const [provider] = nodes
    const before = served(provider)
    const offset = 2 * CHUNK_SIZE + 1234
    const res = await rawRequest(api!.server.url, { path: `/api/v1/blobs/${sha1}`, headers: { range: `bytes=${offset}-${offset + 65_535}` } })
    assert.equal(res.status, 206)
    assert.equal(res.headers['content-range'], `bytes ${offset}-${offset + 65_535}/${SIZE}`)
    assert.ok(res.body.equals(data.subarray(offset, offset + 65_536)))
    const sent = served(provider) - before
    assert.ok(sent >= CHUNK_SIZE && sent < 2 * CHUNK_SIZE, `${sent} bytes sent for one chunk`)

    const across = await collect(await api!.client.cat(sha1, { offset: CHUNK_SIZE - 7, length: 14 }))
    assert.ok(across.equals(data.subarray(CHUNK_SIZE - 7, CHUNK_SIZE + 7)))
    const suffix = await rawRequest(api!.server.url, { path: `/api/v1/blobs/${sha1}`, headers: { range: 'bytes=-100' } })
    assert.equal(suffix.status, 206)
    assert.ok(suffix.body.equals(data.subarray(SIZE - 100)))
    assert.deepEqual(await doneChunks(nodes[1].trove, sha1), [0, 1, 2, 5])
    const past = await rawRequest(api!.server.url, { path: `/api/v1/blobs/${sha1}`, headers: { range: `bytes=${SIZE}-` } })
    assert.equal(past.status, 416)
    assert.equal(past.json().error.code, 'RANGE_NOT_SATISFIABLE')
    await assert.rejects(api!.client.cat(sha1, { offset: SIZE - 1, length: 2 }), RangeNotSatisfiableError)
    assert.equal((await collect(await api!.client.cat(sha1, { offset: SIZE, length: 0 }))).length, 0)
    assert.equal(await nodes[1].trove.store.has(sha1), false)
  })
})

describe('network: ranges against bad providers and concurrent reads', () => {
  it('bad chunk bytes from a provider are caught by hash and another provider is used', async () => {
    const { nodes: [honest, liar, reader], file, data, sha1, cleanup } = await setUp(3)
    try {
      await liar.trove.addFile(file)
      // the liar's copy of chunk 1 is rewritten; its manifest is still the true one
      await overwriteStored(liar.trove.store, sha1, CHUNK_SIZE, randomBytes(CHUNK_SIZE))
      await connect(reader, honest)
      await connect(reader, liar)
      const scores = reader.trove.network!.scores
      // the liar is asked first: the honest provider has a (small) fault on record
      scores.fault(honest.trove.peerId as string, 1, 'test: order the liar first')
      const got = await collect(await reader.trove.cat(`sha1://${sha1}`, { offset: CHUNK_SIZE + 10, length: 100 }))
      assert.ok(got.equals(data.subarray(CHUNK_SIZE + 10, CHUNK_SIZE + 110)))
      assert.ok(scores.faults(liar.trove.peerId as string) > 1, 'the liar was penalised')
      assert.deepEqual((await reader.trove.db.partials.get(sha1))?.done, [1])
      // the full fetch completes and verifies (the liar is left out or caught again)
      await reader.trove.ensureLocal(`sha1://${sha1}`)
      assert.equal(await sha1OfStored(reader.trove.store, sha1), sha1)
    } finally {
      await cleanup()
    }
  })

  it('ranged reads of one blob at once, and during its full fetch, leave the partial state and the blob intact', async () => {
    const { nodes: [provider, reader], data, sha1, cleanup } = await setUp(2)
    try {
      await connect(reader, provider)
      const uri = `sha1://${sha1}`
      const ranges = [[10, 100], [CHUNK_SIZE * 3 + 5, CHUNK_SIZE], [20, 30], [SIZE - 1, 1]]
      const reads = async (): Promise<void> => {
        const got = await Promise.all(ranges.map(async ([offset, length]) => collect(await reader.trove.cat(uri, { offset, length }))))
        for (const [i, [offset, length]] of ranges.entries()) assert.ok(got[i].equals(data.subarray(offset, offset + length)))
      }
      await reads()
      assert.deepEqual(await doneChunks(reader.trove, sha1), [0, 3, 4, 5])
      // chunk 0 was asked for twice at once and fetched once
      assert.equal(reader.trove.network!.fetcher.rangeChunksFetched, 4)
      await Promise.all([reads(), reader.trove.ensureLocal(uri), reads()])
      assert.equal(await sha1OfStored(reader.trove.store, sha1), sha1)
      assert.equal(await reader.trove.db.partials.get(sha1), undefined)
    } finally {
      await cleanup()
    }
  })
})
