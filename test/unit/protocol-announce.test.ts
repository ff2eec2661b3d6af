import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { beforeEach, describe, it } from 'node:test'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { memoryLogger } from '../../src/logger.js'
import { announceProtocol } from '../../src/protocols/announce/announce.js'
import { ANNOUNCE_MAX_INBOUND_STREAMS, ANNOUNCE_MAX_OUTBOUND_STREAMS, MAX_ANNOUNCE_BLOBS, MAX_ANNOUNCE_MESSAGE_BYTES, MAX_ANNOUNCE_MESSAGES_PER_STREAM, MAX_ANNOUNCE_QUEUE } from '../../src/protocols/announce/constants.js'
import { ANNOUNCE_PROTOCOL, type AnnounceProtocol, type AnnouncedBlob } from '../../src/protocols/announce/index.js'
import { Announce } from '../../src/protocols/announce/pb/announce.js'
import { frame } from '../../src/protocols/stream-io.js'
import { sha1ToBytes } from '../../src/uri.js'
import { FakeNet, type FakeLibp2p } from '../helpers/fake-libp2p.js'
import { rawExchange } from '../helpers/protocol-stubs.js'
import { fakeSha1 } from '../helpers/trove.js'
import { HELLO_SHA1_HEX, WIRE_VECTORS, hexBytes } from '../helpers/wire-vectors.js'

interface Peer {
  node: FakeLibp2p
  announce: AnnounceProtocol
  /** What this peer was told, call by call. */
  heard: Array<{ from: string, blobs: AnnouncedBlob[] }>
  log: ReturnType<typeof memoryLogger>
}

async function peer (net: FakeNet, init: { batchMs?: number } = {}): Promise<Peer> {
  const node = await net.node()
  const heard: Peer['heard'] = []
  const log = memoryLogger()
  const announce = announceProtocol(init)({ libp2p: node, onAnnounce: (from, blobs) => { heard.push({ from, blobs }) }, logger: log })
  await announce.start()
  return { node, announce, heard, log }
}

const all = (p: Peer): AnnouncedBlob[] => p.heard.flatMap((h) => h.blobs)

function message (blobs: Array<{ hash: Uint8Array, size: number }>): Uint8ArrayList {
  return frame(Announce.encode({ blobs: blobs.map((b) => ({ hash: b.hash as Uint8Array<ArrayBuffer>, size: BigInt(b.size) })) }))
}

const blob = (i: number): { hash: Uint8Array, size: number } => ({ hash: sha1ToBytes(fakeSha1(i)), size: i })

describe('announce protocol: sending and receiving with stubbed components', { timeout: 120_000 }, () => {
  let net: FakeNet
  beforeEach(() => { net = new FakeNet() })

  it('registers with its stream limits, and stop unregisters', async () => {
    const a = await peer(net)
    assert.deepEqual(a.node.handlerOptions(ANNOUNCE_PROTOCOL), { maxInboundStreams: ANNOUNCE_MAX_INBOUND_STREAMS, maxOutboundStreams: ANNOUNCE_MAX_OUTBOUND_STREAMS })
    await a.announce.stop()
    assert.equal(a.node.handles(ANNOUNCE_PROTOCOL), false)
  })

  it('tells every connected peer, once per blob and with its latest size', async () => {
    const a = await peer(net)
    const b = await peer(net)
    const c = await peer(net)
    a.announce.announce(fakeSha1(1), 10)
    a.announce.announce(fakeSha1(2), 20)
    a.announce.announce(fakeSha1(1), 11)
    await a.announce.flush()
    await a.announce.stop()
    for (const p of [b, c]) {
      await waitUntil(() => p.announce.received === 2)
      assert.deepEqual(p.heard, [{ from: a.node.peerId.toString(), blobs: [{ sha1: fakeSha1(2), size: 20 }, { sha1: fakeSha1(1), size: 11 }] }])
    }
    // nothing is left to send
    await a.announce.flush()
    assert.equal(a.node.dialed.length, 2)
  })

  it('sends a batch on its own once the batch time has passed', async () => {
    const a = await peer(net, { batchMs: 5 })
    const b = await peer(net)
    a.announce.announce(fakeSha1(1), 1)
    await waitUntil(() => b.announce.received === 1)
    assert.deepEqual(all(b), [{ sha1: fakeSha1(1), size: 1 }])
    await a.announce.stop()
  })

  it('splits a large batch into messages of MAX_ANNOUNCE_BLOBS and streams of MAX_ANNOUNCE_MESSAGES_PER_STREAM messages', async () => {
    const a = await peer(net)
    const b = await peer(net)
    const n = MAX_ANNOUNCE_BLOBS * MAX_ANNOUNCE_MESSAGES_PER_STREAM + 1
    for (let i = 0; i < n; i++) a.announce.announce(fakeSha1(i), i)
    await a.announce.flush()
    await waitUntil(() => b.announce.received === n)
    assert.equal(b.heard.length, MAX_ANNOUNCE_MESSAGES_PER_STREAM + 1)
    assert.ok(b.heard.every((h) => h.blobs.length <= MAX_ANNOUNCE_BLOBS))
    assert.equal(a.node.dialed.length, 2)
    await a.announce.stop()
  })

  it('keeps at most MAX_ANNOUNCE_QUEUE blobs waiting, dropping the oldest', async () => {
    const a = await peer(net)
    const b = await peer(net)
    for (let i = 0; i <= MAX_ANNOUNCE_QUEUE; i++) a.announce.announce(fakeSha1(i), i)
    await a.announce.flush()
    await waitUntil(() => b.announce.received === MAX_ANNOUNCE_QUEUE)
    const heard = new Set(all(b).map((x) => x.sha1))
    assert.equal(heard.has(fakeSha1(0)), false)
    assert.equal(heard.has(fakeSha1(MAX_ANNOUNCE_QUEUE)), true)
    await a.announce.stop()
  })

  it('goes on past a peer that does not speak announce, and logs it at debug', async () => {
    const a = await peer(net)
    const b = await peer(net)
    // a node on the net with no announce handler
    await net.node()
    a.announce.announce(fakeSha1(1), 1)
    await a.announce.flush()
    await waitUntil(() => b.announce.received === 1)
    assert.deepEqual(a.log.records.map((r) => [r.level, r.component, (r.details[0] as Error).name]), [['debug', 'announce', 'UnsupportedProtocolError']])
  })

  it('logs a batch sent on the timer that fails, at warn (nobody awaits it)', async () => {
    const node = await net.node()
    const log = memoryLogger()
    const failing = { ...bind(node), getPeers: () => { throw new Error('no peer list') } }
    const a = announceProtocol({ batchMs: 1 })({ libp2p: failing, onAnnounce: () => {}, logger: log })
    a.announce(fakeSha1(1), 1)
    await waitUntil(() => log.records.length > 0)
    assert.deepEqual(log.records.map((r) => [r.level, r.component, (r.details[0] as Error).message]), [['warn', 'announce', 'no peer list']])
  })
})

describe('announce protocol: receiving from peers that misbehave', { timeout: 60_000 }, () => {
  let net: FakeNet
  let b: Peer
  let sender: FakeLibp2p
  beforeEach(async () => {
    net = new FakeNet()
    b = await peer(net)
    sender = await net.node()
  })

  async function send (bytes: Uint8Array | Uint8ArrayList): Promise<string> {
    const stream = await sender.dialProtocol(b.node.peerId, ANNOUNCE_PROTOCOL)
    return (await rawExchange(stream, bytes, 1)).kind
  }

  it('keeps the blobs before a hash that is not 20 bytes, then resets the stream', async () => {
    assert.equal(await send(message([blob(1), blob(2), { hash: new Uint8Array(19), size: 3 }, blob(4)])), 'reset')
    assert.deepEqual(all(b), [{ sha1: fakeSha1(1), size: 1 }, { sha1: fakeSha1(2), size: 2 }])
    assert.deepEqual(b.log.records.map((r) => [r.level, (r.details[0] as Error).name]), [['debug', 'ProtocolError']])
  })

  it('resets the stream of an oversized, overfull or undecodable message, keeping nothing of it', async () => {
    const oversized = Uint8Array.from([...varint.encode(MAX_ANNOUNCE_MESSAGE_BYTES + 1), ...randomBytes(64)])
    const overfull = message(Array.from({ length: MAX_ANNOUNCE_BLOBS + 1 }, (_, i) => blob(i)))
    const undecodable = frame(Uint8Array.from([0x0f, 0xff, 0xff, 0x01]))
    for (const bytes of [oversized, overfull, undecodable]) assert.equal(await send(bytes), 'reset')
    assert.equal(b.announce.received, 0)
    assert.equal(b.log.records.length, 3)
  })

  it('resets a message with an unknown field whose varint runs past 10 bytes, recording nothing of it (the spec\'s vector)', async () => {
    assert.equal(await send(hexBytes(WIRE_VECTORS.announce.longVarint)), 'reset')
    assert.equal(b.announce.received, 0)
    assert.deepEqual(b.log.records.map((r) => (r.details[0] as Error).name), ['ProtocolError'])
  })

  it('records a message with unknown well-formed fields as if they were absent (the spec\'s vector)', async () => {
    assert.equal(await send(hexBytes(WIRE_VECTORS.announce.unknownFields)), 'closed')
    assert.deepEqual(all(b), [{ sha1: HELLO_SHA1_HEX, size: 6 }])
  })

  it('accepts MAX_ANNOUNCE_MESSAGES_PER_STREAM messages on one stream and resets at the next', async () => {
    const out = new Uint8ArrayList()
    for (let i = 0; i <= MAX_ANNOUNCE_MESSAGES_PER_STREAM; i++) out.append(message([blob(i)]))
    assert.equal(await send(out.subarray()), 'reset')
    assert.equal(b.announce.received, MAX_ANNOUNCE_MESSAGES_PER_STREAM)
  })

  it('ends a well-formed stream cleanly', async () => {
    assert.equal(await send(message([blob(1)])), 'closed')
    assert.deepEqual(all(b), [{ sha1: fakeSha1(1), size: 1 }])
    assert.deepEqual(b.log.records, [])
  })
})

/** The libp2p slice of a fake node, as plain functions (to replace one of them). */
function bind (node: FakeLibp2p): Pick<FakeLibp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'> {
  return {
    handle: node.handle.bind(node),
    unhandle: node.unhandle.bind(node),
    dialProtocol: node.dialProtocol.bind(node),
    getPeers: node.getPeers.bind(node)
  }
}

/** Waits for something the protocol does in the background (no deadline: the suite's timeout bounds it). */
async function waitUntil (done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 2))
}
