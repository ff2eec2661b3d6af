import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { isConnected, spawnNode, stopNodes, waitFor, type NodeOptions, type TestNode } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/** Generous: A's back-off may have grown to a few seconds while B was down, on a loaded machine. */
const RECONNECT_MS = 60_000

/** The TCP port of a node's loopback address. */
function portOf (node: TestNode): number {
  return Number(/\/tcp\/(\d+)\//.exec(node.addr)?.[1])
}

/**
 * Starts B on a data directory of its own (kept across its restarts), lets `link` connect A to
 * it, then stops B and starts it again on the same directory and port: same peer id, same
 * address. B forgets A across the restart, so only A can bring the connection back.
 */
async function restartOnce (link: (a: TestNode, b: TestNode) => Promise<void>, aOptions: NodeOptions = {}): Promise<void> {
  const dir = await tempDir('trove-redial-b-')
  const nodes: TestNode[] = []
  try {
    const b = await spawnNode({}, dir)
    nodes.push(b)
    const a = await spawnNode(aOptions.bootstrap !== undefined ? { ...aOptions, bootstrap: [b.addr] } : aOptions)
    nodes.push(a)
    await link(a, b)
    await waitFor(() => isConnected(a, b), 10_000, 'A connected to B')

    const id = b.trove.peerId
    await b.stop()
    await waitFor(() => !isConnected(a, b), 10_000, 'A to see B go')
    const b2 = await spawnNode({ listen: [`/ip4/127.0.0.1/tcp/${portOf(b)}`] }, dir)
    nodes.push(b2)
    assert.equal(b2.trove.peerId, id, 'the same data directory, the same peer id')
    await waitFor(() => isConnected(a, b2), RECONNECT_MS, 'A to reconnect to the restarted B')
  } finally {
    await stopNodes(nodes)
    await dir.cleanup()
  }
}

describe('redial: a node finds a restarted peer again', () => {
  it('redials its bootstrap peer after that peer restarts on the same port', async () => {
    await restartOnce(async () => {}, { bootstrap: [] })
  })

  it('redials a peer it was given with connect', async () => {
    await restartOnce(async (a, b) => {
      const peer = await a.trove.connect(b.addr)
      assert.equal(peer.peerId, b.trove.peerId)
    })
  })
})

describe('connect on a running node', () => {
  const nodes: TestNode[] = []
  after(async () => { await stopNodes(nodes) })

  it('refuses a malformed address with InvalidArgumentError naming it, and an unreachable peer with PeerUnreachableError', async () => {
    const a = await spawnNode()
    nodes.push(a)
    for (const bad of ['/ip4/1.2.3.4/tcp/1/p2p/', '/ip4/127.0.0.1/tcp/1', 'not an address', '/ip4/127.0.0.1/tcp/1/p2p/notapeer']) {
      await assert.rejects(a.trove.connect(bad), (err: Error) => {
        assert.equal(err.name, 'InvalidArgumentError', bad)
        assert.ok(err.message.includes(JSON.stringify(bad)), err.message)
        return true
      })
    }
    await assert.rejects(a.trove.connect(a.addr), { name: 'InvalidArgumentError' })
    // a port nothing listens on: refused at once
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const closed = await spawnNode()
    const port = portOf(closed)
    await closed.stop()
    await assert.rejects(a.trove.connect(`/ip4/127.0.0.1/tcp/${port}/p2p/${nobody}`), { name: 'PeerUnreachableError' })
    assert.equal((await a.trove.peers()).length, 0)
  })

  it('fails with NodeNotRunningError on a node whose network is not started (a malformed address still named first)', async () => {
    const a = await spawnNode()
    nodes.push(a)
    await a.trove.stop()
    await assert.rejects(a.trove.connect('/ip4/1.2.3.4/tcp/1/p2p/'), { name: 'InvalidArgumentError' })
    await assert.rejects(a.trove.connect(`/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`), { name: 'NodeNotRunningError' })
  })
})
