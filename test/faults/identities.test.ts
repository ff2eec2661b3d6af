import assert from 'node:assert/strict'
import { it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createNetwork, type TroveLibp2p } from '../../src/net/libp2p.js'
import { MAX_CONNECTIONS } from '../../src/net/constants.js'
import { MAX_ANNOUNCE_BLOBS, MAX_ANNOUNCE_MESSAGES_PER_STREAM } from '../../src/protocols/announce/constants.js'
import { MAX_PROVIDER_RECORDS, MAX_PROVIDER_RECORDS_PER_PEER } from '../../src/transfer/providers.js'
import { floodAnnounceStream } from '../helpers/floods.js'
import { isConnected, randomContent, spawnNodes, stopNodes, waitFor } from '../helpers/nodes.js'

/** Identities one host brings up against the node, each a libp2p node of its own on 127.0.0.1. */
const IDENTITIES = 48

it('many peer identities from one host, each flooding announcements: the provider table stays bounded and an honest peer still fetches', async () => {
  const [a, honest] = await spawnNodes(2)
  const sybils: TroveLibp2p[] = []
  try {
    await waitFor(() => isConnected(a, honest), 10_000, 'the honest peer to connect')
    const target = multiaddr(a.addr)
    for (let i = 0; i < IDENTITIES; i++) {
      const node = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: [], mdns: false })
      await node.start()
      sybils.push(node)
    }
    const outcomes = await Promise.allSettled(sybils.map(async (node) => { await floodAnnounceStream(node, target) }))
    const network = a.trove.network!  // eslint-disable-line @typescript-eslint/no-non-null-assertion
    assert.ok(network.providers.size <= MAX_PROVIDER_RECORDS, `${network.providers.size} provider records`)
    for (const node of sybils) assert.ok(network.providers.recordsOf(node.peerId.toString()) <= MAX_PROVIDER_RECORDS_PER_PEER)
    // each identity was cut off at its share rather than read to the end
    assert.ok(outcomes.some((o) => o.status === 'rejected') || network.providers.size < IDENTITIES * MAX_ANNOUNCE_MESSAGES_PER_STREAM * MAX_ANNOUNCE_BLOBS)
    assert.ok(network.libp2p.getConnections().length <= MAX_CONNECTIONS)

    const added = await a.trove.add(randomContent(256 * 1024))
    assert.equal((await honest.trove.ensureLocal(`sha1://${added.sha1}`, { timeoutMs: 20_000 })).sha1, added.sha1)
  } finally {
    await Promise.allSettled(sybils.map(async (n) => n.stop()))
    await stopNodes([a, honest])
  }
})
