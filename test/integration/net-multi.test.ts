import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CHUNKED_THRESHOLD } from '../../src/transfer/constants.js'
import { sha1OfStored, spawnNodes, stopNodes, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** 12 chunks of 4 MiB: enough work that both providers get some of it. */
const SIZE = 48 * 1024 * 1024

describe('network: multi-provider fetch', () => {
  it('fetches a large blob from two providers at once', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const file = path.join(src.dir, 'big.bin')
      await writeRandomFile(file, SIZE)
      nodes = await spawnNodes(3, { topology: 'full' })
      const [a, b, c] = nodes
      const [ra, rb] = await Promise.all([a.trove.addFile(file), b.trove.addFile(file)])
      assert.equal(ra.sha1, rb.sha1)
      assert.ok(SIZE > CHUNKED_THRESHOLD)

      let peersSeen = 0
      const info = await c.trove.ensureLocal(ra.uri, { onProgress: (p) => { peersSeen = Math.max(peersSeen, p.peers ?? 0) } })
      assert.equal(info.size, SIZE)
      assert.equal(await sha1OfStored(c.trove.store, ra.sha1), ra.sha1)
      const servedA = a.trove.network!.fetchProtocol.bytesServed
      const servedB = b.trove.network!.fetchProtocol.bytesServed
      assert.ok(servedA > 0, 'provider A served bytes')
      assert.ok(servedB > 0, 'provider B served bytes')
      // the manifest travels too, so served bytes add up to a little over the blob
      assert.ok(servedA + servedB >= SIZE)
      assert.ok(peersSeen >= 2, `progress reported ${peersSeen} peer(s) at most`)
      assert.deepEqual(c.trove.transfers(), [])
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })
})
