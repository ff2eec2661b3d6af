import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CHUNK_SIZE } from '../../src/transfer/constants.js'
import { collect } from '../helpers/trove.js'
import { connect, sha1OfStored, spawnNodes, stopNodes, writeRandomFile, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * Makes `liar` claim 1,000 bytes less than the truth for `sha1`, in have answers and in fetch
 * answers alike (both read the size from the store's index), while keeping the true manifest.
 */
function lieAboutSize (liar: TestNode, sha1: string): void {
  const store = liar.trove.store
  const statMany = store.statMany.bind(store)
  store.statMany = async (sha1s) => (await statMany(sha1s)).map((info) => info?.sha1 === sha1 ? { ...info, size: info.size - 1000 } : info)
}

describe('network: providers that claim a false size (issue 13, item 3)', () => {
  it('two liars connected first do not deny the fetch of a small blob, a large one or a range of one', async () => {
    const src = await tempDir('trove-src-')
    let nodes: TestNode[] = []
    try {
      const small = path.join(src.dir, 'small.bin')
      const large = path.join(src.dir, 'large.bin')
      const ranged = path.join(src.dir, 'ranged.bin')
      await writeRandomFile(small, 300_000)
      await writeRandomFile(large, 3 * CHUNK_SIZE)
      await writeRandomFile(ranged, 3 * CHUNK_SIZE)
      nodes = await spawnNodes(4, { topology: 'none', findTimeoutMs: 3_000 })
      const [fetcher, ...providers] = nodes
      const liars = providers.slice(0, 2)
      const sha1s: string[] = []
      for (const file of [small, large, ranged]) {
        const added = await Promise.all(providers.map(async (p) => p.trove.addFile(file)))
        sha1s.push(added[0].sha1)
      }
      for (const liar of liars) for (const sha1 of sha1s) lieAboutSize(liar, sha1)
      for (const p of providers) await connect(fetcher, p)

      const [smallSha1, largeSha1, rangedSha1] = sha1s
      for (const sha1 of [smallSha1, largeSha1]) {
        const info = await fetcher.trove.ensureLocal(`sha1://${sha1}`)
        assert.equal(info.sha1, sha1)
        assert.equal(await sha1OfStored(fetcher.trove.store, sha1), sha1)
      }
      const bytes = await collect(await fetcher.trove.cat(`sha1://${rangedSha1}`, { offset: CHUNK_SIZE - 10, length: 20 }))
      assert.equal(bytes.byteLength, 20)
      for (const liar of liars) {
        assert.ok(fetcher.trove.network!.scores.faults(liar.trove.peerId as string) > 0, 'each liar was penalised')
      }
    } finally {
      await stopNodes(nodes)
      await src.cleanup()
    }
  })
})
