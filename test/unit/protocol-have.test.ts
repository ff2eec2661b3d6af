import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { beforeEach, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import type { Uint8ArrayList } from 'uint8arraylist'
import { memoryLogger } from '../../src/logger.js'
import { HAVE_MAX_INBOUND_STREAMS, HAVE_MAX_OUTBOUND_STREAMS, HAVE_QUERIES_PER_PEER, MAX_HAVE_HASHES, MAX_HAVE_REQUEST_BYTES, MAX_HAVE_RESPONSE_BYTES } from '../../src/protocols/have/constants.js'
import { haveProtocol } from '../../src/protocols/have/have.js'
import { HAVE_PROTOCOL, type HaveProtocol } from '../../src/protocols/have/index.js'
import { HaveRequest, HaveResponse } from '../../src/protocols/have/pb/have.js'
import { StreamReader, frame } from '../../src/protocols/stream-io.js'
import { sha1ToBytes } from '../../src/uri.js'
import { FakeNet, type FakeLibp2p } from '../helpers/fake-libp2p.js'
import { MemoryBlobs, MemoryManifests, rawExchange } from '../helpers/protocol-stubs.js'
import { fakeSha1 } from '../helpers/trove.js'
import { HELLO_SHA1_HEX, WIRE_VECTORS, hexBytes } from '../helpers/wire-vectors.js'

/** Short enough that the stall tests finish quickly; the protocol's own default is 5 s. */
const TIMEOUT_MS = 150

interface Setup {
  net: FakeNet
  server: FakeLibp2p
  client: FakeLibp2p
  blobs: MemoryBlobs
  manifests: MemoryManifests
  serverLog: ReturnType<typeof memoryLogger>
  serving: HaveProtocol
  asking: HaveProtocol
}

async function setup (timeoutMs = TIMEOUT_MS): Promise<Setup> {
  const net = new FakeNet()
  const server = await net.node()
  const client = await net.node()
  const blobs = new MemoryBlobs()
  const manifests = new MemoryManifests()
  const serverLog = memoryLogger()
  const serving = haveProtocol({ timeoutMs })({ libp2p: server, blobs, manifests, logger: serverLog })
  await serving.start()
  const asking = haveProtocol({ timeoutMs })({ libp2p: client, blobs: new MemoryBlobs(), manifests: new MemoryManifests(), logger: memoryLogger() })
  return { net, server, client, blobs, manifests, serverLog, serving, asking }
}

const hashes = (n: number): Uint8Array<ArrayBuffer>[] => Array.from({ length: n }, (_, i) => sha1ToBytes(fakeSha1(i)) as Uint8Array<ArrayBuffer>)

describe('have protocol: answering from stubbed components', { timeout: 60_000 }, () => {
  let s: Setup
  beforeEach(async () => { s = await setup() })

  it('registers with its stream limits, and stop unregisters', async () => {
    assert.deepEqual(s.server.handlerOptions(HAVE_PROTOCOL), { maxInboundStreams: HAVE_MAX_INBOUND_STREAMS, maxOutboundStreams: HAVE_MAX_OUTBOUND_STREAMS })
    await s.serving.stop()
    assert.equal(s.server.handles(HAVE_PROTOCOL), false)
  })

  it('answers in request order: size and manifest for what it holds, no for unknown hashes', async () => {
    const small = s.blobs.add(randomBytes(10))
    const large = s.blobs.add(randomBytes(300))
    const manifest = fakeSha1(99)
    s.manifests.manifests.set(large, manifest)
    // a manifest recorded for a blob no longer held is not offered
    const gone = fakeSha1(5)
    s.manifests.manifests.set(gone, fakeSha1(98))
    const answers = await s.asking.query(s.server.peerId, [gone, large, small])
    assert.deepEqual(answers, [
      { sha1: gone, have: false },
      { sha1: large, have: true, size: 300, manifest },
      { sha1: small, have: true, size: 10 }
    ])
    assert.equal(s.manifests.lookups, 1, 'one manifest look-up for the whole request')
  })

  it('answers a request of MAX_HAVE_HASHES hashes, and refuses to send a longer one', async () => {
    const sha1s = Array.from({ length: MAX_HAVE_HASHES }, (_, i) => fakeSha1(i))
    const answers = await s.asking.query(s.server.peerId, sha1s)
    assert.equal(answers.length, MAX_HAVE_HASHES)
    assert.ok(answers.every((a) => !a.have))
    await assert.rejects(s.asking.query(s.server.peerId, [...sha1s, fakeSha1(-1)]), { name: 'RangeError' })
    assert.equal(s.client.dialed.length, 1, 'the refused query opened no stream')
  })

  it('resets the stream of a request that breaks the rules, and logs it at debug', async () => {
    const bad: Array<Uint8Array | Uint8ArrayList | undefined> = [
      // nothing at all
      undefined,
      // a hash of 19 bytes
      frame(HaveRequest.encode({ hashes: [new Uint8Array(19)] })),
      // more hashes than MAX_HAVE_HASHES, within the byte limit
      frame(HaveRequest.encode({ hashes: hashes(MAX_HAVE_HASHES + 1) })),
      // a length prefix over MAX_HAVE_REQUEST_BYTES
      Uint8Array.from([...varint.encode(MAX_HAVE_REQUEST_BYTES + 1), ...randomBytes(100)]),
      // not protobuf
      frame(Uint8Array.from([0x0f, 0xff, 0xff, 0x01]))
    ]
    for (const bytes of bad) {
      const stream = await s.client.dialProtocol(s.server.peerId, HAVE_PROTOCOL)
      assert.equal((await rawExchange(stream, bytes, MAX_HAVE_RESPONSE_BYTES)).kind, 'reset')
    }
    assert.equal(s.serverLog.records.length, bad.length)
    assert.ok(s.serverLog.records.every((r) => r.level === 'debug' && r.component === 'have'))
  })

  it('resets a request with an unknown field whose varint runs past 10 bytes (the spec\'s vector)', async () => {
    s.blobs.add(Buffer.from('hello\n'))
    const stream = await s.client.dialProtocol(s.server.peerId, HAVE_PROTOCOL)
    assert.equal((await rawExchange(stream, hexBytes(WIRE_VECTORS.have.requestLongVarint), MAX_HAVE_RESPONSE_BYTES)).kind, 'reset')
    assert.deepEqual(s.serverLog.records.map((r) => (r.details[0] as Error).name), ['ProtocolError'])
  })

  it('answers a request with unknown well-formed fields as if they were absent (the spec\'s vector)', async () => {
    s.blobs.add(Buffer.from('hello\n'))
    const stream = await s.client.dialProtocol(s.server.peerId, HAVE_PROTOCOL)
    const outcome = await rawExchange(stream, hexBytes(WIRE_VECTORS.have.requestUnknownFields), MAX_HAVE_RESPONSE_BYTES)
    assert.equal(outcome.kind, 'answer')
    const res = HaveResponse.decode((outcome as { msg: Uint8ArrayList }).msg)
    assert.deepEqual(res.entries.map((e) => [Buffer.from(e.hash).toString('hex'), e.have, e.size]), [[HELLO_SHA1_HEX, true, 6n]])
  })

  it('drops a peer that opens a stream and asks nothing, at the deadline', async () => {
    const stream = await s.client.dialProtocol(s.server.peerId, HAVE_PROTOCOL)
    assert.equal((await rawExchange(stream, undefined, MAX_HAVE_RESPONSE_BYTES, { keepOpen: true })).kind, 'reset')
  })
})

describe('have protocol: asking peers that misbehave', { timeout: 60_000 }, () => {
  /** A peer whose have handler reads the request and answers with `answer(hashes)`. */
  async function badPeer (answer: (stream: Stream, hashes: Uint8Array[]) => Promise<void> | void, timeoutMs?: number): Promise<Setup> {
    const s = await setup(timeoutMs)
    await s.serving.stop()
    await s.server.handle(HAVE_PROTOCOL, (stream) => {
      void (async () => {
        const msg = await new StreamReader(stream).readMessage(MAX_HAVE_REQUEST_BYTES)
        if (msg !== undefined) await answer(stream, HaveRequest.decode(msg).hashes)
      })().catch(() => {
        // the client resets the stream when it gives up: the test checks what it saw
      })
    })
    return s
  }

  const entry = (hash: Uint8Array, extra: Partial<HaveResponse['entries'][number]> = {}): HaveResponse['entries'][number] =>
    ({ hash: hash as Uint8Array<ArrayBuffer>, have: true, size: 7n, ...extra })

  it('rejects an answer with another number of entries', async () => {
    const s = await badPeer((stream, hs) => { stream.send(frame(HaveResponse.encode({ entries: hs.slice(1).map((h) => entry(h)) }))) })
    await assert.rejects(s.asking.query(s.server.peerId, [fakeSha1(1), fakeSha1(2)]), { name: 'ProtocolError' })
  })

  it('rejects an answer out of order', async () => {
    const s = await badPeer((stream, hs) => { stream.send(frame(HaveResponse.encode({ entries: [...hs].reverse().map((h) => entry(h)) }))) })
    await assert.rejects(s.asking.query(s.server.peerId, [fakeSha1(1), fakeSha1(2)]), { name: 'ProtocolError' })
  })

  it('rejects an oversized answer', async () => {
    const s = await badPeer((stream) => { stream.send(frame(new Uint8Array(MAX_HAVE_RESPONSE_BYTES + 1))) })
    await assert.rejects(s.asking.query(s.server.peerId, [fakeSha1(1)]), { name: 'ProtocolError' })
  })

  it('rejects a peer that closes without answering', async () => {
    const s = await badPeer(async (stream) => { await stream.close() })
    await assert.rejects(s.asking.query(s.server.peerId, [fakeSha1(1)]), { name: 'ProtocolError' })
  })

  it('rejects an answer with an unknown field whose varint runs past 10 bytes (the spec\'s vector)', async () => {
    const s = await badPeer((stream) => { stream.send(hexBytes(WIRE_VECTORS.have.responseLongVarint)) })
    await assert.rejects(s.asking.query(s.server.peerId, [HELLO_SHA1_HEX]), { name: 'ProtocolError' })
  })

  it('gives up on a peer that never answers, at the deadline', async () => {
    const s = await badPeer(() => {})
    await assert.rejects(s.asking.query(s.server.peerId, [fakeSha1(1)]), { name: 'PeerTimeoutError' })
  })

  it('ignores a manifest that is not a sha1, and the size of a blob the peer does not have', async () => {
    const s = await badPeer((stream, hs) => {
      stream.send(frame(HaveResponse.encode({ entries: [entry(hs[0], { manifest: new Uint8Array(19) as Uint8Array<ArrayBuffer> }), entry(hs[1], { have: false, size: 99n })] })))
    })
    assert.deepEqual(await s.asking.query(s.server.peerId, [fakeSha1(1), fakeSha1(2)]), [
      { sha1: fakeSha1(1), have: true, size: 7 },
      { sha1: fakeSha1(2), have: false }
    ])
  })

  it('runs at most HAVE_QUERIES_PER_PEER queries to one peer at once; the rest wait their turn', async () => {
    const held: Array<() => void> = []
    const s = await badPeer(async (stream, hs) => {
      await new Promise<void>((resolve) => { held.push(resolve) })
      stream.send(frame(HaveResponse.encode({ entries: hs.map((h) => entry(h)) })))
    }, 30_000)
    const queries = Array.from({ length: HAVE_QUERIES_PER_PEER + 2 }, async (_, i) => s.asking.query(s.server.peerId, [fakeSha1(i)]))
    while (held.length < HAVE_QUERIES_PER_PEER) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(s.client.dialed.length, HAVE_QUERIES_PER_PEER)
    while (held.length > 0 || s.client.dialed.length < queries.length) {
      held.shift()?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.equal((await Promise.all(queries)).length, HAVE_QUERIES_PER_PEER + 2)
  })
})
