import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { randomContent, sha1OfStored, spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/** Short enough that the "nobody has it" case is quick, long enough for a loaded CI machine. */
const FIND_TIMEOUT_MS = 1_500

describe('network: two nodes over bootstrap', () => {
  let nodes: TestNode[] = []
  let a: TestNode
  let b: TestNode

  before(async () => {
    nodes = await spawnNodes(2, { topology: 'star', findTimeoutMs: FIND_TIMEOUT_MS, announceBatchMs: 20 })
    ;[a, b] = nodes
    await waitFor(() => a.trove.network!.libp2p.getPeers().length > 0 && b.trove.network!.libp2p.getPeers().length > 0, 10_000, 'the nodes to connect')
  })
  after(async () => { await stopNodes(nodes) })

  it('fetches a blob added on A into B with identical bytes', async () => {
    const added = await a.trove.add(randomContent(300 * 1024))
    const info = await b.trove.ensureLocal(`sha1://${added.sha1}`)
    assert.equal(info.sha1, added.sha1)
    assert.equal(info.size, 300 * 1024)
    assert.equal(await sha1OfStored(b.trove.store, added.sha1), added.sha1)
    assert.deepEqual(b.trove.transfers(), [])
  })

  it('fetchBlob makes a blob local from a peer and says its size', async () => {
    const added = await a.trove.add(randomContent(40 * 1024))
    assert.deepEqual(await b.trove.fetchBlob(`sha1://${added.sha1}`), { sha1: added.sha1, size: 40 * 1024 })
    assert.equal(await sha1OfStored(b.trove.store, added.sha1), added.sha1)
  })

  it('status reports the network: identity, peers, DHT off, bytes served, known providers', async () => {
    const added = await a.trove.add(randomContent(8 * 1024))
    const servedBefore = (await a.trove.status()).network?.bytesServed ?? 0
    await b.trove.ensureLocal(`sha1://${added.sha1}`)
    const st = await a.trove.status()
    assert.equal(st.mode, 'node')
    assert.ok(st.network !== undefined)
    assert.deepEqual(Object.keys(st.network), ['peerId', 'addresses', 'peers', 'dht', 'bytesServed', 'knownProviders'])
    assert.equal(st.network.peerId, a.trove.peerId)
    assert.deepEqual(st.network.addresses, a.trove.multiaddrs())
    assert.ok(st.network.peers >= 1)
    assert.equal(st.network.dht, false)
    assert.ok(st.network.bytesServed >= servedBefore + 8 * 1024)
    assert.equal(st.network.bytesServed, a.trove.network!.fetchProtocol.bytesServed)
    assert.equal((await b.trove.status()).network?.knownProviders, b.trove.network!.providers.size)
  })

  it('fails with NoProvidersError for a hash no one has', async () => {
    const missing = createHash('sha1').update(randomBytes(32)).digest('hex')
    await assert.rejects(b.trove.ensureLocal(`sha1://${missing}`), { name: 'NoProvidersError' })
    assert.deepEqual(b.trove.transfers(), [])
  })

  it('announces new blobs: B records A as a provider', async () => {
    const added = await a.trove.add(randomContent(10 * 1024))
    const aId = a.trove.peerId as string
    await waitFor(() => b.trove.network!.providers.get(added.sha1).includes(aId), 10_000, 'the announcement to arrive')
  })

  it('space management sees copies peers hold: after B fetches, A counts one replica', async () => {
    const added = await a.trove.add(randomContent(20 * 1024))
    assert.equal(a.trove.space.replicas(added.sha1), 0)
    await b.trove.ensureLocal(`sha1://${added.sha1}`)
    // B announces what it gained; A's eviction order and minCopies then count B's copy
    await waitFor(() => a.trove.space.replicas(added.sha1) === 1, 10_000, 'A to learn of B\'s copy')
    const why = await a.trove.why(added.sha1) as unknown as { space: { replicas: number } }
    assert.equal(why.space.replicas, 1)
  })
})
