import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { encodeManifest, makeManifest, parseManifest } from '../../src/store/manifests.js'
import { connect, overwriteStored, sha1OfStored, spawnNodes, stopNodes, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Three chunks: over the chunked threshold. */
const SIZE = 3 * CHUNK_SIZE

/**
 * Makes `liar` offer a manifest for `sha1` whose chunk hashes are those of other content of the
 * same size, and serve that other content as `sha1`: every chunk matches the manifest, only the
 * whole does not hash to what was asked for.
 */
async function lieAbout (liar: TestNode, sha1: string, otherFile: string): Promise<string> {
  const other = await liar.trove.addFile(otherFile)
  const otherManifest = parseManifest(await liar.trove.store.readBytes(await liar.trove.db.manifests.get(other.sha1) as string), { sha1: other.sha1 })
  const fake = await liar.trove.store.putBytes(encodeManifest(makeManifest(sha1, SIZE, CHUNK_SIZE, otherManifest.chunks)))
  await liar.trove.db.manifests.put(sha1, fake.sha1)
  // the other content written over the liar's copy of sha1, wherever the store keeps it
  await overwriteStored(liar.trove.store, sha1, 0, await fs.readFile(otherFile))
  assert.equal(await sha1OfStored(liar.trove.store, sha1), other.sha1)
  return fake.sha1
}

describe('network: a provider offering a false manifest', () => {
  it('the fetch does not stay stuck on the false manifest: it completes from an honest provider', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const real = path.join(src.dir, 'real.bin')
      const other = path.join(src.dir, 'other.bin')
      await writeRandomFile(real, SIZE)
      await writeRandomFile(other, SIZE)
      nodes = await spawnNodes(3, { topology: 'none', findTimeoutMs: 3_000 })
      const [honest, liar, fetcher] = nodes
      const [r1, r2] = await Promise.all([honest.trove.addFile(real), liar.trove.addFile(real)])
      assert.equal(r1.sha1, r2.sha1)
      const sha1 = r1.sha1
      await lieAbout(liar, sha1, other)

      // only the liar at first: the download cannot succeed, and nothing false may be stored
      await connect(fetcher, liar)
      await assert.rejects(fetcher.trove.ensureLocal(`sha1://${sha1}`), { name: 'HashMismatchError' })
      assert.equal(await fetcher.trove.store.has(sha1), false)
      const liarId = liar.trove.peerId as string
      assert.ok(fetcher.trove.network!.scores.faults(liarId) > 0, 'the liar was penalised')

      // with an honest provider too, the fetch must succeed however the two are ordered
      await connect(fetcher, honest)
      const info = await fetcher.trove.ensureLocal(`sha1://${sha1}`)
      assert.equal(info.sha1, sha1)
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1), sha1)
      assert.equal(await fetcher.trove.db.partials.get(sha1), undefined)
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })

  it('within one fetch, a false manifest offered by most providers gives way to the true one', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const real = path.join(src.dir, 'real.bin')
      const other = path.join(src.dir, 'other.bin')
      await writeRandomFile(real, SIZE)
      await writeRandomFile(other, SIZE)
      // two liars outvote one honest provider, so the false manifest is tried first
      nodes = await spawnNodes(4, { topology: 'none', findTimeoutMs: 3_000 })
      const [honest, liar1, liar2, fetcher] = nodes
      const added = await Promise.all([honest, liar1, liar2].map(async (n) => n.trove.addFile(real)))
      const sha1 = added[0].sha1
      const fake1 = await lieAbout(liar1, sha1, other)
      const fake2 = await lieAbout(liar2, sha1, other)
      assert.equal(fake1, fake2)
      for (const n of [honest, liar1, liar2]) await connect(fetcher, n)

      const info = await fetcher.trove.ensureLocal(`sha1://${sha1}`)
      assert.equal(info.sha1, sha1)
      assert.equal(await sha1OfStored(fetcher.trove.store, sha1), sha1)
      const scores = fetcher.trove.network!.scores
      assert.ok(scores.faults(liar1.trove.peerId as string) > 0)
      assert.ok(scores.faults(liar2.trove.peerId as string) > 0)
      assert.equal(scores.faults(honest.trove.peerId as string), 0)
      assert.deepEqual(fetcher.trove.transfers(), [])
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })
})
