import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { rawRequest, startApiFixture, type ApiFixture } from '../helpers/api-fixture.js'
import { isConnected, spawnNode, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

describe('POST /peers: connect at run time through the API', () => {
  let f: ApiFixture
  let b: TestNode
  let client: ApiClient

  before(async () => {
    f = await startApiFixture()
    await f.trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    b = await spawnNode()
    client = new ApiClient({ url: f.url, token: f.token })
  })
  after(async () => {
    await stopNodes([b])
    await f.cleanup()
  })

  it('needs the token', async () => {
    const res = await rawRequest(f.url, { method: 'POST', path: '/api/v1/peers', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ addr: b.addr }) })
    assert.equal(res.status, 401)
    assert.equal(res.json().error.code, 'UNAUTHORIZED')
    assert.equal((await f.trove.peers()).length, 0)
  })

  it('refuses a body without an address, and a malformed address naming it (400 INVALID_ARGUMENT)', async () => {
    const res = await rawRequest(f.url, { method: 'POST', path: '/api/v1/peers', headers: { ...f.auth, 'content-type': 'application/json' }, body: JSON.stringify({ address: b.addr }) })
    assert.equal(res.status, 400)
    assert.equal(res.json().error.code, 'INVALID_ARGUMENT')
    const bad = '/ip4/127.0.0.1/tcp/1/p2p/'
    await assert.rejects(client.connect(bad), (err: Error) => {
      assert.equal(err.name, 'InvalidArgumentError')
      assert.ok(err.message.includes(JSON.stringify(bad)), err.message)
      return true
    })
  })

  it('connects through ApiClient.connect, and the node then lists the peer', async () => {
    const peer = await client.connect(b.addr)
    assert.equal(peer.peerId, b.trove.peerId)
    const fixtureNode = { trove: f.trove } as unknown as TestNode
    await waitFor(() => isConnected(fixtureNode, b), 10_000, 'the API node connected to B')
    assert.ok((await client.peers()).some((p) => p.peerId === b.trove.peerId))
  })
})
