import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { cliSandbox, type CliSandbox, type JsonError } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'

describe('trove connect', () => {
  let a: CliSandbox
  let b: CliSandbox
  let nodeA: Daemon | undefined
  let nodeB: Daemon | undefined

  before(async () => {
    ;[a, b] = await Promise.all([cliSandbox(), cliSandbox()])
    ;[nodeA, nodeB] = await Promise.all([startDaemon(a), startDaemon(b)])
  })
  after(async () => {
    await Promise.all([stopDaemon(nodeA, 'SIGTERM'), stopDaemon(nodeB, 'SIGTERM')])
    await Promise.all([nodeA?.exited, nodeB?.exited])
    await Promise.all([a?.cleanup(), b?.cleanup()])
  })

  it('connects a running node to another at run time (through its API)', async () => {
    const addr = nodeA!.addr()
    const human = await b.run(['connect', addr])
    assert.equal(human.code, 0, human.stderr)
    assert.equal(human.stdout, `connected to ${nodeA!.started.peerId!} at ${addr}\n`)
    const json = await b.runJson<{ peerId: string, addresses: string[] }>(['connect', addr])
    assert.equal(json.code, 0, json.stderr)
    assert.equal(json.json.peerId, nodeA!.started.peerId)
    const peers = await b.runJson<Array<{ peerId: string }>>(['peers'])
    assert.ok(peers.json.some((p) => p.peerId === nodeA!.started.peerId))
  })

  it('refuses a malformed address in one line naming it (exit 2), and an unreachable peer (exit 1)', async () => {
    const bad = '/ip4/127.0.0.1/tcp/1/p2p/'
    const human = await b.run(['connect', bad])
    assert.equal(human.code, 2)
    assert.equal(human.stdout, '')
    assert.match(human.stderr, /^[^\n]+\n$/)
    assert.ok(human.stderr.includes(JSON.stringify(bad)), human.stderr)
    const json = await b.runJson<JsonError>(['connect', bad])
    assert.equal(json.json.error.code, 'INVALID_ARGUMENT')
    // a peer id that nobody has, on a port nobody listens on
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const unreachable = `/ip4/127.0.0.1/tcp/1/p2p/${nobody}`
    const down = await b.runJson<JsonError>(['connect', unreachable])
    assert.equal(down.code, 1)
    assert.equal(down.json.error.code, 'PEER_UNREACHABLE')
  })

  it('without a running node: NODE_NOT_RUNNING, and a malformed address is still named first', async () => {
    const c = await cliSandbox()
    try {
      const down = await c.runJson<JsonError>(['connect', nodeA!.addr()])
      assert.equal(down.code, 1)
      assert.equal(down.json.error.code, 'NODE_NOT_RUNNING')
      const bad = await c.runJson<JsonError>(['connect', 'not-an-address'])
      assert.equal(bad.code, 2)
      assert.equal(bad.json.error.code, 'INVALID_ARGUMENT')
      assert.ok(bad.json.error.message.includes('"not-an-address"'), bad.json.error.message)
    } finally {
      await c.cleanup()
    }
  })
})
