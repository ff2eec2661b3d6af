import assert from 'node:assert/strict'
import { it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { isConnected, randomContent, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/** A refused dial fails at the gater or the handshake; bound the wait either way. */
const REFUSED_DIAL_MS = 5_000

it('the peer allow-list at the gater: a listed peer connects and fetches, an unlisted one is refused both ways', async () => {
  const nodes: TestNode[] = []
  try {
    const friend = await spawnNode({})
    nodes.push(friend)
    const stranger = await spawnNode({})
    nodes.push(stranger)
    const guarded = await spawnNode({ allowPeers: [friend.trove.peerId as string], bootstrap: [friend.addr] })
    nodes.push(guarded)
    await waitFor(() => isConnected(guarded, friend) && isConnected(friend, guarded), 10_000, 'the listed peer to connect')
    const added = await guarded.trove.add(randomContent(64 * 1024))
    assert.equal((await friend.trove.ensureLocal(`sha1://${added.sha1}`, { timeoutMs: 20_000 })).sha1, added.sha1)

    // the guarded node refuses to dial; a dial to it may finish its handshake on the dialler's side
    // before the gater's refusal closes it, so what counts is that no connection stays
    await assert.rejects(guarded.trove.network!.libp2p.dial(multiaddr(stranger.addr), { signal: AbortSignal.timeout(REFUSED_DIAL_MS) })) // eslint-disable-line @typescript-eslint/no-non-null-assertion
    await stranger.trove.network!.libp2p.dial(multiaddr(guarded.addr), { signal: AbortSignal.timeout(REFUSED_DIAL_MS) }).catch(() => {}) // eslint-disable-line @typescript-eslint/no-non-null-assertion
    await waitFor(() => !isConnected(guarded, stranger) && !isConnected(stranger, guarded), REFUSED_DIAL_MS, 'the refused connection to close')
    // the stranger cannot fetch what only the guarded node holds
    await assert.rejects(stranger.trove.ensureLocal(`sha1://${added.sha1}`, { timeoutMs: 2_000 }))
  } finally {
    await stopNodes(nodes)
  }
})
