import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL as TLS_PROTOCOL } from '@libp2p/tls'
import { createTrove } from '../../src/node.js'
import { isConnected, randomContent, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** A dial both sides cannot agree on fails at negotiation; bound the wait in case it hangs instead. */
const REFUSED_DIAL_MS = 3_000

/** The encryption protocol a live connection between two nodes negotiated. */
function encryptionOf (from: TestNode, to: TestNode): string | undefined {
  const peer = to.trove.network?.libp2p.peerId
  return from.trove.network?.libp2p.getConnections(peer)[0]?.encryption
}

describe('network: connection encryption (noise, TLS)', () => {
  it('two TLS nodes fetch a chunked blob over TLS, byte for byte', async () => {
    const nodes: TestNode[] = []
    try {
      const a = await spawnNode({ encryption: ['tls'] })
      nodes.push(a)
      const b = await spawnNode({ encryption: ['tls'], bootstrap: [a.addr] })
      nodes.push(b)
      await waitFor(() => isConnected(b, a), 10_000, 'TLS nodes to connect')
      assert.equal(encryptionOf(b, a), TLS_PROTOCOL)
      const size = 20 * 1024 * 1024 + 5
      const hash = createHash('sha1')
      const added = await a.trove.add((async function * () {
        for await (const piece of randomContent(size)) { hash.update(piece); yield piece }
      })())
      assert.equal(added.sha1, hash.digest('hex'))
      const got = await b.trove.ensureLocal(`sha1://${added.sha1}`)
      assert.equal(got.size, size)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('a node preferring TLS with noise as fallback talks TLS to TLS nodes and noise to the rest; a TLS-only and a noise-only node cannot connect', async () => {
    const nodes: TestNode[] = []
    try {
      const both = await spawnNode({ encryption: ['tls', 'noise'] })
      nodes.push(both)
      const noiseOnly = await spawnNode({ bootstrap: [both.addr] })
      nodes.push(noiseOnly)
      const tlsOnly = await spawnNode({ encryption: ['tls'], bootstrap: [both.addr] })
      nodes.push(tlsOnly)
      await waitFor(() => isConnected(noiseOnly, both) && isConnected(tlsOnly, both), 10_000, 'both to connect to the node that has both')
      assert.equal(encryptionOf(noiseOnly, both), '/noise')
      assert.equal(encryptionOf(tlsOnly, both), TLS_PROTOCOL)
      // content flows over each
      const added = await both.trove.add(randomContent(64 * 1024))
      for (const n of [noiseOnly, tlsOnly]) assert.equal((await n.trove.ensureLocal(`sha1://${added.sha1}`)).sha1, added.sha1)

      await Promise.all([
        assert.rejects(tlsOnly.trove.network!.libp2p.dial(multiaddr(noiseOnly.addr), { signal: AbortSignal.timeout(REFUSED_DIAL_MS) })),
        assert.rejects(noiseOnly.trove.network!.libp2p.dial(multiaddr(tlsOnly.addr), { signal: AbortSignal.timeout(REFUSED_DIAL_MS) }))
      ])
      assert.equal(isConnected(tlsOnly, noiseOnly), false)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('refuses an unknown encryption name, or none, and a stream window out of range, with InvalidArgumentError', async () => {
    const tmp = await tempDir()
    const trove = await createTrove({ dataDir: tmp.dir, create: true, durable: false })
    try {
      for (const encryption of [['rot13'], []]) {
        await assert.rejects(trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], encryption: encryption as Array<'tls'> }),
          (err: Error) => err.name === 'InvalidArgumentError')
      }
      // the stream window is checked for library callers too, not only by the CLI
      for (const streamWindow of [1024, 2 * 1024 * 1024 * 1024, 1.5 * 1024 * 1024 + 0.5]) {
        await assert.rejects(trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], streamWindow }),
          (err: Error) => err.name === 'InvalidArgumentError')
      }
    } finally {
      await trove.close()
      await tmp.cleanup()
    }
  })
})
