import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import * as varint from 'uint8-varint'
import type { Uint8ArrayList } from 'uint8arraylist'
import { Announce } from '../../src/protocols/announce/pb/announce.js'
import { ANNOUNCE_PROTOCOL, MAX_ANNOUNCE_BLOBS } from '../../src/protocols/announce/constants.js'
import { FETCH_PROTOCOL, MAX_FETCH_RESPONSE_HEADER_BYTES } from '../../src/protocols/fetch/constants.js'
import { FetchRequest, FetchResponse } from '../../src/protocols/fetch/pb/fetch.js'
import { HAVE_PROTOCOL, MAX_HAVE_HASHES, MAX_HAVE_RESPONSE_BYTES } from '../../src/protocols/have/constants.js'
import { HaveRequest, HaveResponse } from '../../src/protocols/have/pb/have.js'
import { StreamReader, frame } from '../../src/protocols/stream-io.js'
import { sha1ToBytes } from '../../src/uri.js'
import { isConnected, randomContent, spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

/**
 * A server must answer or reset well before this; waiting longer means it hangs on a bad peer.
 * Longer than the have/announce deadlines (5 and 10 s) so a deadline-driven reset still counts.
 */
const ANSWER_WAIT_MS = 15_000
/** Length prefix far over every protocol's message limit. */
const HUGE_LENGTH = 64 * 1024 * 1024

type Outcome = { kind: 'answer', msg: Uint8ArrayList } | { kind: 'reset', error: string } | { kind: 'closed' }

/** Sends raw bytes on a fresh stream and reports what the server did: answered, reset or closed. */
async function exchange (client: TestNode, server: PeerId, protocol: string, bytes: Uint8Array | Uint8ArrayList, maxAnswer: number): Promise<Outcome> {
  const signal = AbortSignal.timeout(ANSWER_WAIT_MS)
  const stream: Stream = await client.trove.network!.libp2p.dialProtocol(server, protocol, { signal })
  const reader = new StreamReader(stream)
  try {
    stream.send(bytes)
    await stream.close({ signal })
  } catch {
    // the server may reset before we finish writing: what it did is read below
  }
  try {
    const msg = await reader.readMessage(maxAnswer, signal)
        return msg === undefined ? { kind: 'closed' } : { kind: 'answer', msg }
  } catch (err) {
    if (signal.aborted) throw new Error(`${protocol}: the server neither answered nor reset the stream`)
        return { kind: 'reset', error: (err as Error).name }
  } finally {
    stream.abort(new Error('done'))
  }
}

function hugePrefix (): Uint8Array {
  return Uint8Array.from([...varint.encode(HUGE_LENGTH), ...randomBytes(64)])
}

/** Not protobuf: a tag with wire type 7 (undefined) and a length that runs past the end. */
const GARBAGE = Uint8Array.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, 0x0b])

function fetchStatus (outcome: Outcome): FetchResponse.Status {
  assert.equal(outcome.kind, 'answer', `expected a status, got ${JSON.stringify(outcome)}`)
  return FetchResponse.decode((outcome as { msg: Uint8ArrayList }).msg).status
}

/** A protocol violation: the server must not produce a normal answer (a reset or a refusal is fine). */
function refused (outcome: Outcome, what: string): void {
  assert.notEqual(outcome.kind, 'answer', `${what}: the server answered as if the request were valid`)
}

describe('network: bad peers at the protocol level', () => {
  let nodes: TestNode[] = []
  let server: TestNode
  let client: TestNode
  let serverId: PeerId
  let stored: { sha1: string, size: number }

  before(async () => {
    nodes = await spawnNodes(2, { topology: 'star' })
    ;[server, client] = nodes
    serverId = peerIdFromString(server.trove.peerId as string)
    await waitFor(() => isConnected(client, server), 10_000, 'the nodes to connect')
    stored = await server.trove.add(randomContent(100_000))
  })

  after(async () => {
    try {
      // whatever came before, the server is up and serves a well-behaved client
      assert.equal(server.trove.network!.libp2p.status, 'started')
      const fresh = await server.trove.add(randomContent(50_000))
      assert.equal((await client.trove.ensureLocal(`sha1://${fresh.sha1}`)).sha1, fresh.sha1)
      assert.equal((await client.trove.ensureLocal(`sha1://${stored.sha1}`)).sha1, stored.sha1)
    } finally {
      await stopNodes(nodes)
    }
  })

  describe('fetch', () => {
    it('resets on an oversized length prefix', async () => {
      refused(await exchange(client, serverId, FETCH_PROTOCOL, hugePrefix(), MAX_FETCH_RESPONSE_HEADER_BYTES), 'oversized prefix')
    })

    it('resets on garbage protobuf', async () => {
      refused(await exchange(client, serverId, FETCH_PROTOCOL, frame(GARBAGE), MAX_FETCH_RESPONSE_HEADER_BYTES), 'garbage')
    })

    it('answers RANGE_NOT_SATISFIABLE for a range outside the blob', async () => {
      const cases = [
        { offset: BigInt(stored.size + 1), length: 0n },
        { offset: BigInt(stored.size - 10), length: 11n },
        { offset: 0n, length: BigInt(stored.size + 1) },
        { offset: 2n ** 64n - 1n, length: 2n ** 64n - 1n }
      ]
      for (const range of cases) {
        const req = FetchRequest.encode({ hash: sha1ToBytes(stored.sha1) as Uint8Array<ArrayBuffer>, ...range })
        const status = fetchStatus(await exchange(client, serverId, FETCH_PROTOCOL, frame(req), MAX_FETCH_RESPONSE_HEADER_BYTES))
        assert.equal(status, FetchResponse.Status.RANGE_NOT_SATISFIABLE, `range ${range.offset}+${range.length}`)
      }
    })

    it('answers BAD_REQUEST for a hash of 19 bytes', async () => {
      const req = FetchRequest.encode({ hash: randomBytes(19) as Uint8Array<ArrayBuffer>, offset: 0n, length: 0n })
      const status = fetchStatus(await exchange(client, serverId, FETCH_PROTOCOL, frame(req), MAX_FETCH_RESPONSE_HEADER_BYTES))
      assert.equal(status, FetchResponse.Status.BAD_REQUEST)
    })

    it('fails cleanly on a request cut off mid-message', async () => {
      const req = frame(FetchRequest.encode({ hash: sha1ToBytes(stored.sha1) as Uint8Array<ArrayBuffer> })).subarray()
      refused(await exchange(client, serverId, FETCH_PROTOCOL, req.subarray(0, req.byteLength - 5), MAX_FETCH_RESPONSE_HEADER_BYTES), 'truncated')
    })

    it('still serves a valid range on a fresh stream', async () => {
      const req = FetchRequest.encode({ hash: sha1ToBytes(stored.sha1) as Uint8Array<ArrayBuffer>, offset: 10n, length: 100n })
      assert.equal(fetchStatus(await exchange(client, serverId, FETCH_PROTOCOL, frame(req), MAX_FETCH_RESPONSE_HEADER_BYTES)), FetchResponse.Status.OK)
    })
  })

  describe('have', () => {
    it('resets on an oversized length prefix', async () => {
      refused(await exchange(client, serverId, HAVE_PROTOCOL, hugePrefix(), MAX_HAVE_RESPONSE_BYTES), 'oversized prefix')
    })

    it('resets on garbage protobuf', async () => {
      refused(await exchange(client, serverId, HAVE_PROTOCOL, frame(GARBAGE), MAX_HAVE_RESPONSE_BYTES), 'garbage')
    })

    it('refuses a request with more hashes than the limit', async () => {
      const hashes = Array.from({ length: MAX_HAVE_HASHES + 1 }, () => randomBytes(20) as Uint8Array<ArrayBuffer>)
      refused(await exchange(client, serverId, HAVE_PROTOCOL, frame(HaveRequest.encode({ hashes })), MAX_HAVE_RESPONSE_BYTES), 'too many hashes')
    })

    it('refuses a hash of 19 bytes', async () => {
      const hashes = [sha1ToBytes(stored.sha1) as Uint8Array<ArrayBuffer>, randomBytes(19) as Uint8Array<ArrayBuffer>]
      refused(await exchange(client, serverId, HAVE_PROTOCOL, frame(HaveRequest.encode({ hashes })), MAX_HAVE_RESPONSE_BYTES), '19-byte hash')
    })

    it('answers a valid request at the limit', async () => {
      const hashes = Array.from({ length: MAX_HAVE_HASHES }, () => randomBytes(20) as Uint8Array<ArrayBuffer>)
      hashes[7] = sha1ToBytes(stored.sha1) as Uint8Array<ArrayBuffer>
      const outcome = await exchange(client, serverId, HAVE_PROTOCOL, frame(HaveRequest.encode({ hashes })), MAX_HAVE_RESPONSE_BYTES)
      assert.equal(outcome.kind, 'answer')
      const res = HaveResponse.decode((outcome as { msg: Uint8ArrayList }).msg, { limits: { entries: MAX_HAVE_HASHES } })
      assert.equal(res.entries.length, MAX_HAVE_HASHES)
      assert.deepEqual(res.entries.map((e, i) => e.have ? i : -1).filter((i) => i >= 0), [7])
    })
  })

  describe('announce', () => {
    it('resets on an oversized length prefix, garbage, too many blobs and a 19-byte hash', async () => {
      const tooMany = Announce.encode({ blobs: Array.from({ length: MAX_ANNOUNCE_BLOBS + 1 }, () => ({ hash: randomBytes(20) as Uint8Array<ArrayBuffer>, size: 1n })) })
      const shortHash = Announce.encode({ blobs: [{ hash: randomBytes(19) as Uint8Array<ArrayBuffer>, size: 1n }] })
      for (const [what, bytes] of [['oversized prefix', hugePrefix()], ['garbage', frame(GARBAGE)], ['too many blobs', frame(tooMany)], ['19-byte hash', frame(shortHash)]] as const) {
        const outcome = await exchange(client, serverId, ANNOUNCE_PROTOCOL, bytes, 1024)
        // announce has no answers: the server closes or resets
        assert.notEqual(outcome.kind, 'answer', what)
      }
      // none of it reached the provider table
      assert.equal(server.trove.network!.providers.size, 0)
    })
  })
})
