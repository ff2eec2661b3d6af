import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CHUNK_SIZE, FAULT_BAD_DATA } from '../../src/transfer/constants.js'
import { connect, overwriteStored, sha1OfStored, spawnNodes, stopNodes, waitFor, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Six chunks: chunk 3 exists and is a whole chunk. */
const SIZE = 6 * CHUNK_SIZE
const BAD_CHUNK = 3
/** Under the chunked threshold: fetched whole from one provider at a time. */
const SMALL_SIZE = 1024 * 1024

const GARBAGE = Buffer.from('this is not what was stored')

describe('network: providers with corrupt blobs', () => {
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

      // garbage written into the bad provider's copy of the blob, bypassing its store
      await overwriteStored(bad.trove.store, sha1, BAD_CHUNK * CHUNK_SIZE + 12_345, GARBAGE)
      assert.notEqual(await sha1OfStored(bad.trove.store, sha1), sha1)

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
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1), sha1)
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

  it('a small blob with bad bytes from its only provider is refused, then fetched from an honest one', async () => {
    let nodes: TestNode[] = []
    try {
      nodes = await spawnNodes(3, { topology: 'none', findTimeoutMs: 2_000 })
      const [honest, bad, fetcher] = nodes
      const content = randomBytes(SMALL_SIZE)
      const [r1, r2] = await Promise.all([honest.trove.add([content]), bad.trove.add([content])])
      assert.equal(r1.sha1, r2.sha1)
      const sha1 = r1.sha1
      await overwriteStored(bad.trove.store, sha1, SMALL_SIZE / 2, GARBAGE)
      assert.notEqual(await sha1OfStored(bad.trove.store, sha1), sha1)

      await connect(fetcher, bad)
      const badId = bad.trove.peerId as string
      await assert.rejects(fetcher.trove.ensureLocal(`sha1://${sha1}`), { name: 'TransferFailedError' })
      assert.equal(await fetcher.trove.store.has(sha1), false, 'nothing unverified was stored')
      assert.ok(fetcher.trove.network!.scores.faults(badId) >= FAULT_BAD_DATA)
      assert.deepEqual(fetcher.trove.transfers(), [])

      await connect(fetcher, honest)
      const info = await fetcher.trove.ensureLocal(`sha1://${sha1}`)
      assert.equal(info.sha1, sha1)
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1), sha1)
    } finally {
      await stopNodes(nodes)
    }
  })
})
