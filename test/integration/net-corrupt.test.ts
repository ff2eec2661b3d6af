import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CHUNK_SIZE, FAULT_BAD_DATA } from '../../src/transfer/constants.js'
import { connect, sha1OfFile, spawnNodes, stopNodes, waitFor, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Six chunks: chunk 3 exists and is a whole chunk. */
const SIZE = 6 * CHUNK_SIZE
const BAD_CHUNK = 3

describe('network: a provider with a corrupt chunk', () => {
  it('drops the provider on a hash mismatch, penalises it and completes from an honest one', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const file = path.join(src.dir, 'big.bin')
      await writeRandomFile(file, SIZE)
      // honest, bad, fetcher; the fetcher starts connected to the bad provider only, so the bad
      // provider is sure to be asked for the corrupt chunk (with two providers it may never be)
      nodes = await spawnNodes(3, { topology: 'none', findTimeoutMs: 15_000 })
      const [honest, bad, fetcher] = nodes
      const [r1, r2] = await Promise.all([honest.trove.addFile(file), bad.trove.addFile(file)])
      assert.equal(r1.sha1, r2.sha1)
      const sha1 = r1.sha1

      // garbage written into the bad provider's blob file, bypassing its store
      const blobFile = bad.trove.store.pathOf(sha1)
      await fs.chmod(blobFile, 0o644)
      const fh = await fs.open(blobFile, 'r+')
      await fh.write(Buffer.from('this is not what the manifest says'), 0, undefined, BAD_CHUNK * CHUNK_SIZE + 12_345)
      await fh.close()
      assert.notEqual(await sha1OfFile(blobFile), sha1)

      await connect(fetcher, bad)
      const badId = bad.trove.peerId as string
      const scores = fetcher.trove.network!.scores
      const fetching = fetcher.trove.ensureLocal(`sha1://${sha1}`)
      fetching.catch(() => {})
      await waitFor(() => scores.faults(badId) > 0, 30_000, 'the bad chunk to be detected')
      // the honest provider joins once the bad one is dropped; the fetcher looks again and finds it
      await connect(fetcher, honest)
      const info = await fetching

      assert.equal(info.sha1, sha1)
      assert.equal(await sha1OfFile(fetcher.trove.store.pathOf(sha1)), sha1)
      assert.ok(scores.faults(badId) >= FAULT_BAD_DATA, `faults of the bad provider: ${scores.faults(badId)}`)
      assert.equal(scores.faults(honest.trove.peerId as string), 0)
      assert.ok(honest.trove.network!.fetchProtocol.bytesServed > 0)
      assert.equal(await fetcher.trove.db.partials.get(sha1), undefined)
      assert.ok((await fetcher.trove.peers()).some((p) => p.peerId === badId && (p.faults ?? 0) > 0))
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })
})
