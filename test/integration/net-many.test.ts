import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { isConnected, sha1OfStored, spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/** A ref of many small files (a dataset of images, a results folder). */
const BLOBS = 3_000
/** Small blobs of 0 to 4 KiB: the cost is per blob, not per byte. */
const MAX_BLOB = 4 * 1024
/** Adds run this many at a time (the store is the bottleneck, not the test). */
const ADD_CONCURRENCY = 16

async function inParallel<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

describe('network: thousands of small blobs', () => {
  it(`fetches ${BLOBS} small blobs added on another node`, async () => {
    let nodes: TestNode[] = []
    try {
      nodes = await spawnNodes(2, { topology: 'star' })
      const [a, b] = nodes
      await waitFor(() => isConnected(b, a), 10_000, 'the nodes to connect')
      const contents = Array.from({ length: BLOBS }, (_, i) => Buffer.concat([Buffer.from(`blob ${i}\n`), randomBytes(i % MAX_BLOB)]))
      const sha1s: string[] = []
      await inParallel(contents.map((c, i) => ({ c, i })), ADD_CONCURRENCY, async ({ c, i }) => {
        sha1s[i] = (await a.trove.add([c])).sha1
      })
      assert.equal(new Set(sha1s).size, BLOBS)

      const uris = sha1s.map((s) => `sha1://${s}`)
      let progress = 0
      const result = await b.trove.fetchMany(uris, { onProgress: (p) => { progress = Math.max(progress, p.done) } })
      assert.deepEqual(result.failed, [])
      assert.equal(result.fetched, BLOBS)
      assert.equal(result.local, 0)
      assert.ok(progress > 0)
      for (let i = 0; i < BLOBS; i++) {
        assert.equal(await sha1OfStored(b.trove.store, sha1s[i]), createHash('sha1').update(contents[i]).digest('hex'))
      }
      assert.deepEqual(b.trove.transfers(), [])

      // again, with one nobody has: the rest are local, the missing one fails on its own
      const missing = createHash('sha1').update(randomBytes(16)).digest('hex')
      const again = await b.trove.fetchMany([...uris.slice(0, 100), `sha1://${missing}`], { timeoutMs: 1_000 })
      assert.equal(again.local, 100)
      assert.equal(again.fetched, 0)
      assert.deepEqual(again.failed.map((f) => [f.sha1, f.code]), [[missing, 'NO_PROVIDERS']])
    } finally {
      await stopNodes(nodes)
    }
  })

  it('single fetches made at the same time (scripts calling GET /blobs one by one) share batches, and large or missing ones still take the single path', async () => {
    let nodes: TestNode[] = []
    try {
      nodes = await spawnNodes(2, { topology: 'star' })
      const [a, b] = nodes
      await waitFor(() => isConnected(b, a), 10_000, 'the nodes to connect')
      const contents = Array.from({ length: 300 }, (_, i) => Buffer.concat([Buffer.from(`single ${i}\n`), randomBytes(i % MAX_BLOB)]))
      const sha1s: string[] = []
      await inParallel(contents.map((c, i) => ({ c, i })), ADD_CONCURRENCY, async ({ c, i }) => {
        sha1s[i] = (await a.trove.add([c])).sha1
      })
      const large = randomBytes(20 * 1024 * 1024 + 3)
      const largeSha1 = (await a.trove.add([large])).sha1
      const missing = createHash('sha1').update(randomBytes(16)).digest('hex')

      const results = await Promise.allSettled([
        ...sha1s.map(async (s) => b.trove.ensureLocal(`sha1://${s}`)),
        b.trove.ensureLocal(`sha1://${largeSha1}`),
        b.trove.ensureLocal(`sha1://${missing}`, { timeoutMs: 1_000 })
      ])
      for (let i = 0; i < sha1s.length; i++) {
        assert.equal(results[i].status, 'fulfilled', `blob ${i}`)
        assert.equal(await sha1OfStored(b.trove.store, sha1s[i]), createHash('sha1').update(contents[i]).digest('hex'))
      }
      assert.equal(results[sha1s.length].status, 'fulfilled')
      assert.equal(await sha1OfStored(b.trove.store, largeSha1), createHash('sha1').update(large).digest('hex'))
      const lost = results[sha1s.length + 1]
      assert.equal(lost.status, 'rejected')
      assert.equal(((lost as PromiseRejectedResult).reason as Error).name, 'NoProvidersError')
      assert.deepEqual(b.trove.transfers(), [])
    } finally {
      await stopNodes(nodes)
    }
  })
})
