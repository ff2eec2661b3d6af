import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { randomContent, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/** Any multicast group works for the probe; this one is in the organisation-local scope. */
const PROBE_GROUP = '239.255.42.99'
/** How long the probe waits for its own datagram: loopback delivery is immediate when it works. */
const PROBE_WAIT_MS = 1_000
/** mDNS queries go out every MDNS_INTERVAL_MS (5 s) and at start: allow a few rounds on a busy machine. */
const DISCOVERY_WAIT_MS = 20_000

/** Whether this machine delivers multicast to itself (sandboxes and some CI runners do not). */
async function multicastWorks (): Promise<boolean> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  try {
    return await new Promise<boolean>((resolve) => {
      const token = Buffer.from(`trove-probe-${process.pid}-${Math.random()}`)
      const timer = setTimeout(() => resolve(false), PROBE_WAIT_MS)
      socket.on('error', () => { clearTimeout(timer); resolve(false) })
      socket.on('message', (msg) => {
        if (msg.equals(token)) { clearTimeout(timer); resolve(true) }
      })
      socket.bind(0, () => {
        try {
          socket.addMembership(PROBE_GROUP)
          socket.setMulticastLoopback(true)
          socket.send(token, socket.address().port, PROBE_GROUP, (err) => {
            if (err != null) { clearTimeout(timer); resolve(false) }
          })
        } catch {
          clearTimeout(timer)
          resolve(false)
        }
      })
    })
  } finally {
    socket.close()
  }
}

describe('network: mDNS discovery', () => {
  it('two nodes with mDNS and no bootstrap find each other and transfer', async (t) => {
    if (!await multicastWorks()) {
      t.skip('multicast does not reach this host from itself (no multicast route in this sandbox)')
      return
    }
    const nodes: TestNode[] = []
    try {
      nodes.push(await spawnNode({ mdns: true, bootstrap: [] }))
      nodes.push(await spawnNode({ mdns: true, bootstrap: [] }))
      const [a, b] = nodes
      const aId = peerIdFromString(a.trove.peerId as string)
      const bId = peerIdFromString(b.trove.peerId as string)
      await waitFor(() => a.trove.network!.libp2p.getConnections(bId).length > 0 &&
        b.trove.network!.libp2p.getConnections(aId).length > 0, DISCOVERY_WAIT_MS, 'mDNS to connect the nodes')
      const added = await a.trove.add(randomContent(64 * 1024))
      const info = await b.trove.ensureLocal(`sha1://${added.sha1}`)
      assert.equal(info.sha1, added.sha1)
    } finally {
      await stopNodes(nodes)
    }
  })
})
