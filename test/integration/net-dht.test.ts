import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { sha1ToCid } from '../../src/net/dht-key.js'
import { isConnected, randomContent, sha1OfStored, spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

const NODES = 5
/** Publishing a provider record walks the DHT; five nodes on loopback need far less than this. */
const PROVIDE_TIMEOUT_MS = 30_000

function routingTableSize (node: TestNode): number {
  return (node.trove.network!.libp2p.services.dht as SingleKadDHT | undefined)?.routingTable.size ?? 0
}

describe('network: content found through the DHT', () => {
  it('a node five hops down a line finds and fetches a blob only the first node holds', async () => {
    let nodes: TestNode[] = []
    try {
      // node i bootstraps from node i-1 only
      nodes = await spawnNodes(NODES, { topology: 'line', dht: true, findTimeoutMs: 20_000 })
      const first = nodes[0]
      const last = nodes[NODES - 1]
      for (let i = 1; i < NODES; i++) {
        await waitFor(() => isConnected(nodes[i], nodes[i - 1]), 10_000, `node ${i} to connect to node ${i - 1}`)
      }
      await waitFor(() => nodes.every((n) => routingTableSize(n) > 0), 10_000, 'every routing table to hold a peer')

      const added = await first.trove.add(randomContent(200 * 1024))
      // announcements go to directly connected peers only; send them now so none arrives later
      await first.trove.network!.announce.flush()
      await first.trove.network!.libp2p.contentRouting.provide(sha1ToCid(added.sha1), { signal: AbortSignal.timeout(PROVIDE_TIMEOUT_MS) })

      // the provide walk may itself have connected the ends of the line: that is routing, not
      // discovery of the blob, so drop such a connection to make the fetch find the blob anew
      const firstId = peerIdFromString(first.trove.peerId as string)
      if (isConnected(last, first)) await last.trove.network!.libp2p.hangUp(firstId)
      assert.equal(isConnected(last, first), false, 'the last node is not connected to the first before the fetch')
      assert.deepEqual(last.trove.network!.providers.get(added.sha1), [], 'no announcement told the last node about the blob')
      assert.equal(await last.trove.store.has(added.sha1), false)

      const info = await last.trove.ensureLocal(`sha1://${added.sha1}`)
      assert.equal(info.sha1, added.sha1)
      assert.equal(await sha1OfStored(last.trove.store, added.sha1), added.sha1)
      assert.ok(first.trove.network!.fetchProtocol.bytesServed >= added.size, 'the first node served the blob')
      assert.ok(last.trove.network!.providers.get(added.sha1).includes(firstId.toString()))
    } finally {
      await stopNodes(nodes)
    }
  })
})
