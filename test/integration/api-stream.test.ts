import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { API_PREFIX } from '../../src/api/constants.js'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { ensureApiToken } from '../../src/api/token.js'
import { PARTIAL_SUFFIX } from '../../src/fs-util.js'
import type { Trove } from '../../src/node.js'
import type { ReadOptions } from '../../src/store/types.js'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { connect, overwriteStored, spawnNodes, stopNodes, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Four whole chunks and a short fifth: a large blob, fetched in chunks. */
const SIZE = 4 * CHUNK_SIZE + 4321

/**
 * Holds back what a provider serves of one blob past its first chunk until `open` is called, so
 * a test can look at the reader while its fetch cannot have finished (no timing involved).
 */
function gateReads (provider: Trove, sha1: string): { open: () => void } {
  let open = (): void => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  const store = provider.store
  const read = store.read.bind(store)
  const readBytes = store.readBytes.bind(store)
  const held = async (s: string, options: ReadOptions = {}): Promise<void> => {
    if (s === sha1 && (options.offset ?? 0) >= CHUNK_SIZE) await gate
  }
  store.read = async (s, options) => { await held(s, options); return read(s, options) }
  store.readBytes = async (s, options) => { await held(s, options); return readBytes(s, options) }
  return { open }
}

/** A GET of the blob, handed over as soon as its headers are in: the body is read by the test. */
async function getBlob (server: ApiServer, sha1: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(`${server.url}${API_PREFIX}/blobs/${sha1}`, resolve).once('error', reject)
  })
}

/** Reads from `res` until it has given at least `n` bytes (or ended), then pauses it. */
async function readAtLeast (res: http.IncomingMessage, n: number, into: Buffer[]): Promise<number> {
  let got = into.reduce((sum, b) => sum + b.length, 0)
  if (got >= n) return got
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      res.off('data', onData)
      res.off('end', onEnd)
      res.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      into.push(chunk)
      got += chunk.length
      if (got < n) return
      cleanup()
      res.pause()
      resolve(got)
    }
    const onEnd = (): void => { cleanup(); resolve(got) }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    res.on('data', onData)
    res.once('end', onEnd)
    res.once('error', onError)
    res.resume()
  })
}

describe('API: GET /blobs/{sha1} of a remote blob streams as the node fetches it', () => {
  let nodes: TestNode[] = []
  let server: ApiServer | undefined
  let client: ApiClient
  let provider: TestNode
  let reader: TestNode
  let liars: TestNode[]
  let src: { dir: string, cleanup: () => Promise<void> }

  before(async () => {
    src = await tempDir('trove-stream-')
    // each liar lies once: a peer that sent false bytes is penalised and then banned by the reader
    nodes = await spawnNodes(4, { topology: 'none', findTimeoutMs: 2_000 })
    ;[provider, reader, ...liars] = nodes
    for (const other of [provider, ...liars]) await connect(reader, other)
    const token = await ensureApiToken(reader.trove.dataDir)
    server = await startApiServer({ ops: reader.trove, node: reader.trove }, { port: 0, token })
    client = new ApiClient({ url: server.url, token })
  })
  after(async () => {
    await server?.close()
    await stopNodes(nodes)
    await src.cleanup()
  })

  /** A fresh random blob stored on `on` (default the provider) only. */
  async function providerBlob (on: TestNode = provider): Promise<{ data: Buffer, sha1: string }> {
    const data = randomBytes(SIZE)
    const file = path.join(src.dir, `blob-${Date.now()}-${Math.random()}`)
    await fs.writeFile(file, data)
    const { sha1 } = await on.trove.addFile(file)
    return { data, sha1 }
  }

  afterEach(() => {
    // a test that failed before opening its gate must not leave the provider's store patched
    delete (provider.trove.store as Partial<Record<'read' | 'readBytes', unknown>>).read
    delete (provider.trove.store as Partial<Record<'read' | 'readBytes', unknown>>).readBytes
  })

  it('sends the first chunk while the rest is still to come, then every byte in order; the blob ends up stored', async () => {
    const { data, sha1 } = await providerBlob()
    const gate = gateReads(provider.trove, sha1)
    const res = await getBlob(server as ApiServer, sha1)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-length'], String(SIZE), 'the manifest\'s size: a body short of it is a broken transfer')
    const parts: Buffer[] = []
    const first = await readAtLeast(res, CHUNK_SIZE, parts)
    assert.ok(first >= CHUNK_SIZE)
    // the provider has served nothing past chunk 0: the fetch cannot have finished
    assert.equal(await reader.trove.store.has(sha1), false, 'bytes came before the blob was stored')
    assert.ok(Buffer.concat(parts).equals(data.subarray(0, first)), 'the first chunk, verified, as it is')
    gate.open()
    await readAtLeast(res, Infinity, parts)
    const body = Buffer.concat(parts)
    assert.equal(body.length, SIZE)
    assert.ok(body.equals(data), 'every byte in order')
    assert.equal(await reader.trove.store.has(sha1), true)
  })

  it('a chunk that fails to verify ends the answer before it: never a complete body, never a false byte', async () => {
    const { data, sha1 } = await providerBlob(liars[0])
    await overwriteStored(liars[0].trove.store, sha1, 2 * CHUNK_SIZE + 10, Buffer.from('false bytes'))
    const res = await getBlob(server as ApiServer, sha1)
    assert.equal(res.statusCode, 200)
    const parts: Buffer[] = []
    await assert.rejects(readAtLeast(res, Infinity, parts))
    const body = Buffer.concat(parts)
    assert.ok(body.length <= 2 * CHUNK_SIZE, `got ${body.length} bytes: nothing of the false chunk 2 or after`)
    assert.ok(body.equals(data.subarray(0, body.length)))
    // the client names it as the failed transfer it is
    await assert.rejects(async () => {
      for await (const _ of await client.cat(sha1)) { /* drain */ }
    }, { name: 'TransferFailedError' })
  })

  it('exportBlob: the file appears once the blob is verified and stored, as a link to it; a false blob never appears', async () => {
    const { data, sha1 } = await providerBlob()
    const out = path.join(src.dir, 'exported.bin')
    const progress: number[] = []
    const result = await client.exportBlob(sha1, out, { onProgress: (p) => progress.push(p.bytes) })
    assert.equal(result.how, 'link')
    assert.equal(result.size, SIZE)
    assert.ok((await fs.readFile(out)).equals(data))
    assert.ok(progress.length > 0 && progress[progress.length - 1] === SIZE, 'progress came back while it was fetched')
    await assert.rejects(client.exportBlob(sha1, out), { name: 'FileExistsError' })
    assert.equal((await client.exportBlob(sha1, out, { force: true, copy: true })).how, 'copy')

    const bad = await providerBlob(liars[1])
    await overwriteStored(liars[1].trove.store, bad.sha1, CHUNK_SIZE + 1, Buffer.from('lie'))
    const lied = path.join(src.dir, 'lied.bin')
    await assert.rejects(client.exportBlob(bad.sha1, lied))
    assert.ok(!existsSync(lied), 'the final name never appears')
    assert.ok(!existsSync(lied + PARTIAL_SUFFIX))
  })

  it('exportBlob of a small remote blob (kept in a pack file here) writes a copy of its bytes', async () => {
    const data = randomBytes(10_000)
    const { sha1 } = await provider.trove.add([data])
    const out = path.join(src.dir, 'small.bin')
    const result = await client.exportBlob(sha1, out)
    assert.ok((await fs.readFile(out)).equals(data))
    const where = await reader.trove.store.locate(sha1)
    assert.equal(where?.packed, true, 'a fetched small blob lives in a pack')
    assert.equal(result.how, 'copy', 'a range of a pack cannot be linked')
    assert.notEqual((await fs.stat(out)).mode & 0o200, 0)
  })

  it('export refuses a path it cannot write before fetching anything', async () => {
    const { sha1 } = await providerBlob()
    await assert.rejects(client.exportBlob(sha1, path.join(src.dir, 'no-such-dir', 'x.bin')), { name: 'FileNotFoundError' })
    assert.equal(await reader.trove.store.has(sha1), false, 'nothing was fetched')
  })
})
