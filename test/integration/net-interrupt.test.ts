import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { PartialState } from '../../src/store/manifests.js'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { randomContent, sha1OfStored, spawnNode, spawnNodes, stopNodes, waitFor, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Twelve chunks: the download is still running after the first one lands. */
const SIZE = 12 * CHUNK_SIZE

describe('network: interrupted transfers', () => {
  it('completes from the remaining provider when one is stopped mid-transfer', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const file = path.join(src.dir, 'big.bin')
      await writeRandomFile(file, SIZE)
      nodes = await spawnNodes(3, { topology: 'full' })
      const [a, b, c] = nodes
      const [ra] = await Promise.all([a.trove.addFile(file), b.trove.addFile(file)])
      const bId = b.trove.peerId as string

      let stopping: Promise<void> | undefined
      const info = await c.trove.ensureLocal(ra.uri, {
        onProgress: (p) => {
          // the first verified chunk means both providers are serving: stop one of them now
          if (p.bytes > 0 && stopping === undefined) stopping = b.stop()
        }
      })
      await stopping
      assert.ok(stopping !== undefined, 'the provider was stopped during the transfer')
      assert.equal(info.size, SIZE)
      assert.equal(await sha1OfStored(c.trove.store, ra.sha1), ra.sha1)
      assert.ok(a.trove.network!.fetchProtocol.bytesServed > 0)
      // the stopped provider broke off chunks in flight: the fetcher noticed and moved its work
      assert.ok(c.trove.network!.scores.faults(bId) > 0, 'the stopped provider failed a chunk')
      assert.deepEqual(c.trove.transfers(), [])
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })

  it('resumes a download after the fetching node is closed and reopened, reusing verified chunks', async () => {
    const fetcherDir = await tempDir('trove-fetcher-')
    const nodes: TestNode[] = []
    try {
      const provider = await spawnNode({ findTimeoutMs: 10_000 })
      nodes.push(provider)
      const added = await provider.trove.add(randomContent(SIZE))
      const uri = `sha1://${added.sha1}`

      const first = await spawnNode({ bootstrap: [provider.addr], findTimeoutMs: 10_000 }, fetcherDir)
      nodes.push(first)
      const abort = new AbortController()
      await assert.rejects(first.trove.ensureLocal(uri, {
        signal: abort.signal,
        // abort once two chunks are verified: the rest of the blob is still to come
        onProgress: (p) => { if (p.bytes >= 2 * CHUNK_SIZE) abort.abort() }
      }))
      await first.stop()
      // once the provider has seen the connection go, nothing more of the first attempt is counted
      await waitFor(() => provider.trove.network!.libp2p.getConnections().length === 0, 10_000, 'the provider to see the fetcher leave')
      const servedFirst = provider.trove.network!.fetchProtocol.bytesServed

      const second = await spawnNode({ bootstrap: [provider.addr], findTimeoutMs: 10_000 }, fetcherDir)
      nodes.push(second)
      const partial = await second.trove.db.partials.get(added.sha1) as PartialState | undefined
      assert.ok(partial !== undefined, 'the interrupted download left its resume state')
      assert.ok(partial.done.length >= 2, `chunks kept: ${partial.done.length}`)
      assert.ok(partial.done.length < SIZE / CHUNK_SIZE)

      const info = await second.trove.ensureLocal(uri)
      assert.equal(info.size, SIZE)
      assert.equal(await sha1OfStored(second.trove.store, added.sha1), added.sha1)
      const servedSecond = provider.trove.network!.fetchProtocol.bytesServed - servedFirst
      // the chunks kept were not asked for again
      assert.ok(servedSecond <= SIZE - partial.done.length * CHUNK_SIZE, `second attempt served ${servedSecond} bytes`)
      assert.ok(servedFirst + servedSecond < 2 * SIZE)
      assert.equal(await second.trove.db.partials.get(added.sha1), undefined)
    } finally {
      await stopNodes(nodes)
      await fetcherDir.cleanup()
    }
  })
})
