import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { beforeEach, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { BlobNotFoundError, RangeNotSatisfiableError } from '../../src/errors.js'
import { memoryLogger } from '../../src/logger.js'
import { FETCH_MAX_INBOUND_STREAMS, FETCH_MAX_OUTBOUND_STREAMS, FETCH_SESSIONS_PER_PEER, MAX_BATCHED_ANSWERS, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_HEADER_BYTES, SMALL_ANSWER_BYTES } from '../../src/protocols/fetch/constants.js'
import { fetchProtocol } from '../../src/protocols/fetch/fetch.js'
import { FETCH_PROTOCOL, type AnswerInfo, type FetchInit, type FetchProtocol, type RangeRequest } from '../../src/protocols/fetch/index.js'
import { FetchRequest, FetchResponse } from '../../src/protocols/fetch/pb/fetch.js'
import { StreamReader, frame } from '../../src/protocols/stream-io.js'
import { sha1ToBytes } from '../../src/uri.js'
import { FakeNet, closed, type FakeLibp2p } from '../helpers/fake-libp2p.js'
import { MemoryBlobs, rawExchange, type Outcome } from '../helpers/protocol-stubs.js'
import { faultWeight } from '../../src/transfer/scores.js'
import { collect, fakeSha1 } from '../helpers/trove.js'
import { HELLO_SHA1_HEX, WIRE_VECTORS, hexBytes } from '../helpers/wire-vectors.js'

/** Short enough that the stall tests finish quickly; the protocol's own default is 20 s. */
const STALL_MS = 150
/**
 * A request deadline short enough for a test, with a rate so high that its size adds nothing: a
 * peer that trickles a byte every TRICKLE_MS never stalls, and only the deadline stops it.
 */
const DEADLINE = { stallTimeoutMs: 1000, deadlineBaseMs: 300, minBytesPerSecond: 1e9 }
const TRICKLE_MS = 20

/** Sends `bytes` one byte every TRICKLE_MS until they are sent or the stream ends; stop() ends it early. */
function trickle (stream: Stream, bytes: Uint8Array): { stop: () => void } {
  let i = 0
  const timer = setInterval(() => {
    if (i >= bytes.byteLength || stream.status !== 'open') { clearInterval(timer); return }
    try {
      stream.send(bytes.subarray(i, ++i))
    } catch {
      clearInterval(timer)
    }
  }, TRICKLE_MS)
  return { stop: () => { clearInterval(timer) } }
}

interface Setup {
  net: FakeNet
  server: FakeLibp2p
  client: FakeLibp2p
  blobs: MemoryBlobs
  serverLog: ReturnType<typeof memoryLogger>
  serving: FetchProtocol
  fetching: FetchProtocol
}

/** The options the tests tune: timeouts short enough to finish quickly. */
type TestInit = Pick<FetchInit, 'stallTimeoutMs' | 'deadlineBaseMs' | 'minBytesPerSecond'>

async function setup (init: TestInit = {}): Promise<Setup> {
  const net = new FakeNet()
  const server = await net.node()
  const client = await net.node()
  const blobs = new MemoryBlobs()
  const serverLog = memoryLogger()
  const serving = fetchProtocol(init)({ libp2p: server, blobs, logger: serverLog })
  await serving.start()
  const fetching = fetchProtocol(init)({ libp2p: client, blobs: new MemoryBlobs(), logger: memoryLogger() })
  return { net, server, client, blobs, serverLog, serving, fetching }
}

/** A raw FetchRequest for `hash` (any length: a bad peer's request). */
function rawRequest (hash: Uint8Array, offset = 0n, length = 0n): Uint8ArrayList {
  return frame(FetchRequest.encode({ hash: hash as Uint8Array<ArrayBuffer>, offset, length }))
}

function answeredStatus (outcome: Outcome): FetchResponse.Status {
  assert.equal(outcome.kind, 'answer', `expected a status, got ${JSON.stringify(outcome)}`)
  return FetchResponse.decode((outcome as { msg: Uint8ArrayList }).msg).status
}

function header (status: FetchResponse.Status, size: number, length: number, message = ''): Uint8ArrayList {
  return frame(FetchResponse.encode({ status, size: BigInt(size), length: BigInt(length), message }))
}

describe('fetch protocol: serving blobs from stubbed components', { timeout: 60_000 }, () => {
  let s: Setup
  beforeEach(async () => { s = await setup() })

  it('registers with its stream limits, and stop unregisters', async () => {
    assert.deepEqual(s.server.handlerOptions(FETCH_PROTOCOL), { maxInboundStreams: FETCH_MAX_INBOUND_STREAMS, maxOutboundStreams: FETCH_MAX_OUTBOUND_STREAMS })
    await s.serving.stop()
    assert.equal(s.server.handles(FETCH_PROTOCOL), false)
  })

  it('serves a small blob whole and by range in one read each, counting the bytes served', async () => {
    const data = randomBytes(10_000)
    const sha1 = s.blobs.add(data)
    const session = await s.fetching.open(s.server.peerId)
    assert.deepEqual(await collect(session.get({ sha1 })), data)
    assert.deepEqual(await collect(session.get({ sha1, offset: 100, length: 50 })), data.subarray(100, 150))
    assert.deepEqual(await collect(session.get({ sha1, offset: 9_000 })), data.subarray(9_000))
    await session.close()
    assert.equal(s.serving.bytesServed, 10_000 + 50 + 1_000)
    assert.equal(s.blobs.opened, 0, 'small answers are read in one piece, not streamed')
  })

  it('streams a large blob and closes its source once sent', async () => {
    const data = randomBytes(SMALL_ANSWER_BYTES * 3 + 17)
    const sha1 = s.blobs.add(data)
    const session = await s.fetching.open(s.server.peerId)
    assert.deepEqual(await collect(session.get({ sha1 })), data)
    await session.close()
    assert.equal(s.blobs.opened, 1)
    assert.equal(s.blobs.destroyed, 1)
    assert.equal(s.serving.bytesServed, data.byteLength)
  })

  it('answers requests asked ahead in order (ask, then answer each)', async () => {
    const data = randomBytes(SMALL_ANSWER_BYTES * 2)
    const sha1 = s.blobs.add(data)
    const session = await s.fetching.open(s.server.peerId)
    const reqs: RangeRequest[] = [{ sha1, offset: 0, length: SMALL_ANSWER_BYTES + 5 }, { sha1, offset: SMALL_ANSWER_BYTES + 5, length: SMALL_ANSWER_BYTES - 5 }]
    await session.ask(reqs[0])
    await session.ask(reqs[1])
    assert.deepEqual(await collect(session.answer(reqs[0])), data.subarray(0, SMALL_ANSWER_BYTES + 5))
    assert.deepEqual(await collect(session.answer(reqs[1])), data.subarray(SMALL_ANSWER_BYTES + 5))
    await session.close()
  })

  it('pipelines many requests past one answer batch, passing over a missing blob', async () => {
    const datas = Array.from({ length: MAX_BATCHED_ANSWERS + 8 }, (_, i) => randomBytes(100 + i))
    const reqs = datas.map((d) => ({ sha1: s.blobs.add(d) }))
    const missing = fakeSha1(1)
    reqs.splice(5, 0, { sha1: missing })
    const got = new Map<string, Buffer>()
    const sizes: number[] = []
    const infos: AnswerInfo[] = []
    const missed: Array<[string, string]> = []
    const session = await s.fetching.open(s.server.peerId)
    await session.many(reqs, 16, {
      sinkFor: (req, size) => {
        sizes.push(size)
        const parts: Uint8Array[] = []
        got.set(req.sha1, Buffer.alloc(0))
        return (chunk) => { parts.push(chunk); got.set(req.sha1, Buffer.concat(parts)) }
      },
      done: (_req, info) => { infos.push(info) },
      onMissing: (req, err) => { missed.push([req.sha1, err.name]) }
    })
    assert.deepEqual(missed, [[missing, BlobNotFoundError.name]])
    assert.deepEqual(reqs.filter((r) => r.sha1 !== missing).map((r) => got.get(r.sha1)), datas)
    assert.deepEqual(sizes, datas.map((d) => d.byteLength))
    assert.deepEqual(infos, datas.map((d) => ({ size: d.byteLength, length: d.byteLength })))
    // the stream is still in step after the batch
    assert.deepEqual(await collect(session.get({ sha1: reqs[0].sha1 })), datas[0])
    await session.close()
  })

  it('answers NOT_FOUND for a blob it does not hold, and the session goes on', async () => {
    const sha1 = s.blobs.add(randomBytes(64))
    const session = await s.fetching.open(s.server.peerId)
    await assert.rejects(collect(session.get({ sha1: fakeSha1(2) })), { name: BlobNotFoundError.name })
    assert.equal((await collect(session.get({ sha1 }))).byteLength, 64)
    await session.close()
  })

  it('answers RANGE_NOT_SATISFIABLE for a range outside the blob, and the session is reset', async () => {
    const sha1 = s.blobs.add(randomBytes(64))
    const session = await s.fetching.open(s.server.peerId)
    await assert.rejects(collect(session.get({ sha1, offset: 60, length: 10 })), { name: RangeNotSatisfiableError.name })
    await closed(s.client.dialed[0])
    assert.equal(s.client.dialed[0].status, 'aborted')
  })

  it('answers NOT_FOUND for a blob deleted between its stat and its read', async () => {
    const sha1 = s.blobs.add(randomBytes(64))
    s.blobs.failReads = new BlobNotFoundError('deleted meanwhile')
    const session = await s.fetching.open(s.server.peerId)
    await assert.rejects(collect(session.get({ sha1 })), { name: BlobNotFoundError.name })
    await session.close()
    assert.deepEqual(s.serverLog.records.filter((r) => r.level === 'warn'), [], 'a blob that went away is no failure of ours')
  })

  it('answers INTERNAL_ERROR when its own storage fails, and logs the failure', async () => {
    const small = s.blobs.add(randomBytes(64))
    const large = s.blobs.add(randomBytes(SMALL_ANSWER_BYTES + 1))
    s.blobs.failReads = Object.assign(new Error('disk on fire'), { name: 'EIO' })
    for (const sha1 of [small, large]) {
      const session = await s.fetching.open(s.server.peerId)
      // the peer sees a protocol failure (the INTERNAL_ERROR status), not our error
      await assert.rejects(collect(session.get({ sha1 })), { name: 'ProtocolError' })
    }
    const warnings = s.serverLog.records.filter((r) => r.level === 'warn')
    assert.deepEqual(warnings.map((r) => [r.component, (r.details[0] as Error).name]), [['fetch', 'EIO'], ['fetch', 'EIO']])
  })

  it('answers BAD_REQUEST to a hash that is not 20 bytes', async () => {
    const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
    assert.equal(answeredStatus(await rawExchange(stream, rawRequest(new Uint8Array(19)), MAX_FETCH_RESPONSE_HEADER_BYTES)), FetchResponse.Status.BAD_REQUEST)
  })

  it('resets the stream of an oversized or undecodable request, and logs it at debug', async () => {
    const oversized = Uint8Array.from([...varint.encode(MAX_FETCH_REQUEST_BYTES + 1), ...randomBytes(MAX_FETCH_REQUEST_BYTES + 1)])
    const undecodable = frame(Uint8Array.from([0x0f, 0xff, 0xff, 0x01]))
    const badPrefix = new Uint8Array(12).fill(0xff)
    for (const bytes of [oversized, undecodable, badPrefix]) {
      const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
      assert.equal((await rawExchange(stream, bytes, MAX_FETCH_RESPONSE_HEADER_BYTES)).kind, 'reset')
    }
    const failures = s.serverLog.records.filter((r) => r.component === 'fetch')
    assert.equal(failures.length, 3)
    assert.ok(failures.every((r) => r.level === 'debug'))
    assert.deepEqual(failures.slice(0, 1).map((r) => (r.details[0] as Error).name), ['ProtocolError'])
  })

  it('resets a request whose hash field has wire type 7 instead of serving it (the spec\'s vector)', async () => {
    s.blobs.add(Buffer.from('hello\n'))
    const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
    assert.equal((await rawExchange(stream, hexBytes(WIRE_VECTORS.fetch.requestWireType7), MAX_FETCH_RESPONSE_HEADER_BYTES)).kind, 'reset')
    assert.deepEqual(s.serverLog.records.map((r) => (r.details[0] as Error).name), ['ProtocolError'])
  })

  it('serves a request with an unknown well-formed field as if it were absent (the spec\'s vector)', async () => {
    s.blobs.add(Buffer.from('hello\n'))
    const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
    const outcome = await rawExchange(stream, hexBytes(WIRE_VECTORS.fetch.requestUnknownField), MAX_FETCH_RESPONSE_HEADER_BYTES)
    assert.equal(answeredStatus(outcome), FetchResponse.Status.OK)
    assert.equal(FetchResponse.decode((outcome as { msg: Uint8ArrayList }).msg).length, 6n)
  })

  it('holds at most FETCH_SESSIONS_PER_PEER sessions to one peer; the next waits for one to close', async () => {
    const sessions = await Promise.all(Array.from({ length: FETCH_SESSIONS_PER_PEER }, async () => s.fetching.open(s.server.peerId)))
    let opened = false
    const next = s.fetching.open(s.server.peerId).then((session) => { opened = true; return session })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(opened, false)
    await sessions[0].close()
    const session = await next
    assert.equal(opened, true)
    // a wait for a slot ends with the caller's signal
    const abort = new AbortController()
    const waiting = s.fetching.open(s.server.peerId, { signal: abort.signal })
    abort.abort()
    await assert.rejects(waiting, { name: 'AbortError' })
    for (const open of [...sessions.slice(1), session]) await open.close()
  })

  it('frees the slot of a session that could not open (the peer does not speak fetch)', async () => {
    const other = await s.net.node()
    for (let i = 0; i <= FETCH_SESSIONS_PER_PEER; i++) {
      await assert.rejects(s.fetching.open(other.peerId), { name: 'UnsupportedProtocolError' })
    }
  })
})

describe('fetch protocol: a client against peers that misbehave', { timeout: 60_000 }, () => {
  /** A peer whose fetch handler is `serve`: it reads one request and does whatever it is told. */
  async function badPeer (serve: (stream: Stream, req: FetchRequest) => Promise<void> | void, init: TestInit = {}): Promise<{ s: Setup, open: () => ReturnType<FetchProtocol['open']> }> {
    const s = await setup(init)
    await s.serving.stop()
    await s.server.handle(FETCH_PROTOCOL, (stream) => {
      void (async () => {
        const msg = await new StreamReader(stream).readMessage(MAX_FETCH_REQUEST_BYTES)
        if (msg !== undefined) await serve(stream, FetchRequest.decode(msg))
      })().catch(() => {
        // the client resets the stream when it gives up: the test checks what it saw
      })
    })
    return { s, open: async () => s.fetching.open(s.server.peerId) }
  }

  const sha1 = fakeSha1(7)

  it('rejects an oversized response header', async () => {
    const { open } = await badPeer((stream) => { stream.send(frame(new Uint8Array(MAX_FETCH_RESPONSE_HEADER_BYTES + 1))) })
    await assert.rejects(collect((await open()).get({ sha1 })), { name: 'ProtocolError' })
  })

  it('rejects an undecodable response header and resets the stream', async () => {
    const { s, open } = await badPeer((stream) => { stream.send(frame(Uint8Array.from([0x0f, 0xff, 0xff, 0x01]))) })
    await assert.rejects(collect((await open()).get({ sha1 })))
    await closed(s.client.dialed[0])
    assert.equal(s.client.dialed[0].status, 'aborted')
  })

  it('rejects a header whose status field has wire type 7, and resets the stream (the spec\'s vector)', async () => {
    const { s, open } = await badPeer((stream) => { stream.send(new Uint8ArrayList(hexBytes(WIRE_VECTORS.fetch.responseWireType7), Buffer.from('hello\n'))) })
    await assert.rejects(collect((await open()).get({ sha1: HELLO_SHA1_HEX })), { name: 'ProtocolError' })
    await closed(s.client.dialed[0])
    assert.equal(s.client.dialed[0].status, 'aborted')
  })

  it('rejects an answer of another length than was asked for', async () => {
    const { open } = await badPeer((stream) => { stream.send(header(FetchResponse.Status.OK, 1000, 999)) })
    await assert.rejects(collect((await open()).get({ sha1, offset: 0, length: 1000 })), { name: 'ProtocolError' })
  })

  it('rejects a short answer: the stream ends before the bytes it promised', async () => {
    const { open } = await badPeer(async (stream) => {
      const out = header(FetchResponse.Status.OK, 100, 100)
      out.append(new Uint8Array(50))
      stream.send(out)
      await stream.close()
    })
    const session = await open()
    const got: Uint8Array[] = []
    await assert.rejects(async () => { for await (const piece of session.get({ sha1 })) got.push(piece) }, { name: 'ProtocolError' })
    assert.equal(Buffer.concat(got).byteLength, 50, 'the bytes that did arrive were handed on')
  })

  it('rejects a peer that closes without answering', async () => {
    const { open } = await badPeer(async (stream) => { await stream.close() })
    await assert.rejects(collect((await open()).get({ sha1 })), { name: 'ProtocolError' })
  })

  it('rejects a BUSY or INTERNAL_ERROR answer as a protocol failure', async () => {
    for (const status of [FetchResponse.Status.BUSY, FetchResponse.Status.INTERNAL_ERROR, FetchResponse.Status.BAD_REQUEST]) {
      const { open } = await badPeer((stream) => { stream.send(header(status, 0, 0, 'no')) })
      await assert.rejects(collect((await open()).get({ sha1 })), { name: 'ProtocolError' })
    }
  })

  it('gives up on a peer that stalls mid-answer after the stall timeout', async () => {
    const { s, open } = await badPeer((stream) => {
      const out = header(FetchResponse.Status.OK, 1000, 1000)
      out.append(new Uint8Array(10))
      stream.send(out)
      // and nothing more, with the stream left open
    }, { stallTimeoutMs: STALL_MS })
    await assert.rejects(collect((await open()).get({ sha1 })), { name: 'PeerTimeoutError' })
    await closed(s.client.dialed[0])
    assert.equal(s.client.dialed[0].status, 'aborted')
  })

  it('gives up on a peer that trickles an answer a byte at a time at the request deadline, a fault that counts (issue 13, item 4)', { timeout: 10_000 }, async () => {
    let sender: { stop: () => void } | undefined
    const { s, open } = await badPeer((stream) => {
      const out = header(FetchResponse.Status.OK, 100_000, 100_000)
      out.append(new Uint8Array(100_000))
      sender = trickle(stream, out.subarray())
    }, DEADLINE)
    try {
      const err = await collect((await open()).get({ sha1 })).then(() => undefined, (e: unknown) => e)
      assert.equal((err as Error | undefined)?.name, 'PeerTimeoutError')
      assert.ok(faultWeight(err) > 0, 'the peer is penalised for it')
      await closed(s.client.dialed[0])
      assert.equal(s.client.dialed[0].status, 'aborted')
    } finally {
      sender?.stop()
    }
  })

  it('passes the bytes on as the peer sent them: checking them is the caller\'s job', async () => {
    const lie = randomBytes(64)
    const { open } = await badPeer((stream, req) => {
      assert.deepEqual(Buffer.from(req.hash), Buffer.from(sha1ToBytes(sha1)))
      const out = header(FetchResponse.Status.OK, 64, 64)
      out.append(lie)
      stream.send(out)
    })
    assert.deepEqual(await collect((await open()).get({ sha1 })), lie)
  })
})

describe('fetch protocol: a server against a client that stalls', { timeout: 60_000 }, () => {
  it('drops a client that opens a stream and sends nothing, after the stall timeout', async () => {
    const s = await setup({ stallTimeoutMs: STALL_MS })
    const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
    assert.equal((await rawExchange(stream, undefined, MAX_FETCH_RESPONSE_HEADER_BYTES, { keepOpen: true })).kind, 'reset')
    assert.deepEqual(s.serverLog.records.map((r) => [r.level, (r.details[0] as Error).name]), [['debug', 'PeerTimeoutError']])
  })
})

describe('fetch protocol: a server against a client that trickles (issue 13, item 4)', { timeout: 60_000 }, () => {
  it('drops a client that sends its request a byte at a time, at the request deadline', { timeout: 10_000 }, async () => {
    const s = await setup(DEADLINE)
    s.blobs.add(randomBytes(1000))
    const stream = await s.client.dialProtocol(s.server.peerId, FETCH_PROTOCOL)
    // a request longer than any a client sends, within the size limit, never finished
    const sender = trickle(stream, frame(new Uint8Array(MAX_FETCH_REQUEST_BYTES)).subarray())
    try {
      await closed(stream)
      assert.equal(stream.status, 'reset')
      assert.deepEqual(s.serverLog.records.map((r) => [r.level, (r.details[0] as Error).name]), [['debug', 'PeerTimeoutError']])
    } finally {
      sender.stop()
    }
  })
})
