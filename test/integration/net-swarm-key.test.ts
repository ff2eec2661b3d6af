import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { generateKey } from '@libp2p/pnet'
import { multiaddr } from '@multiformats/multiaddr'
import { isConnected, randomContent, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** A swarm key file: a header and 32 random bytes in hex (95 bytes). */
const SWARM_KEY_BYTES = 95
/**
 * A dial across different keys fails at the handshake; one from a keyed node to an open one can
 * instead wait for an answer that never comes. Either way it must not connect: bound the wait.
 */
const REFUSED_DIAL_MS = 3_000

async function writeSwarmKey (file: string): Promise<string> {
  const key = new Uint8Array(SWARM_KEY_BYTES)
  generateKey(key)
  await fs.writeFile(file, key, { mode: 0o600 })
  return file
}

describe('network: private network (swarm key)', () => {
  it('connects nodes that share a key and keeps out nodes with another key or none', async () => {
    const keys = await tempDir('trove-keys-')
    const nodes: TestNode[] = []
    try {
      const lab = await writeSwarmKey(path.join(keys.dir, 'lab.key'))
      const other = await writeSwarmKey(path.join(keys.dir, 'other.key'))

      const a = await spawnNode({ swarmKey: lab })
      nodes.push(a)
      const b = await spawnNode({ swarmKey: lab, bootstrap: [a.addr] })
      nodes.push(b)
      await waitFor(() => isConnected(a, b) && isConnected(b, a), 10_000, 'nodes with the same key to connect')
      const added = await a.trove.add(randomContent(32 * 1024))
      assert.equal((await b.trove.ensureLocal(`sha1://${added.sha1}`)).sha1, added.sha1)

      const stranger = await spawnNode({ swarmKey: other })
      nodes.push(stranger)
      const open = await spawnNode({})
      nodes.push(open)
      const refused = async (from: TestNode, to: TestNode): Promise<void> => {
        await assert.rejects(from.trove.network!.libp2p.dial(multiaddr(to.addr), { signal: AbortSignal.timeout(REFUSED_DIAL_MS) }))
      }
      // both directions, all at once (a refused dial may take until the bound)
      await Promise.all([refused(stranger, a), refused(a, stranger), refused(open, a), refused(a, open)])
      for (const outsider of [stranger, open]) {
        assert.equal(isConnected(outsider, a), false)
        assert.equal(isConnected(a, outsider), false)
      }
    } finally {
      await stopNodes(nodes)
      await keys.cleanup()
    }
  })
})
