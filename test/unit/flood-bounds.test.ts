import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { memoryLogger } from '../../src/logger.js'
import { announceProtocol } from '../../src/protocols/announce/announce.js'
import { ANNOUNCE_PROTOCOL } from '../../src/protocols/announce/index.js'
import { HAVE_SERVES_PER_PEER, MAX_HAVE_HASHES, MAX_HAVE_RESPONSE_BYTES } from '../../src/protocols/have/constants.js'
import { haveProtocol } from '../../src/protocols/have/have.js'
import { HAVE_PROTOCOL } from '../../src/protocols/have/index.js'
import { HaveRequest } from '../../src/protocols/have/pb/have.js'
import { frame } from '../../src/protocols/stream-io.js'
import type { BlobInfo } from '../../src/store/blob-store.js'
import { MAX_PROVIDER_RECORDS, MAX_PROVIDER_RECORDS_PER_PEER, ProviderTable } from '../../src/transfer/providers.js'
import { FakeNet } from '../helpers/fake-libp2p.js'
import { maximalAnnounce } from '../helpers/floods.js'
import { MemoryBlobs, MemoryManifests, rawExchange } from '../helpers/protocol-stubs.js'

const sha1 = (): string => randomBytes(20).toString('hex')

// issue 13 item 5: an announce flood (maximal messages, 4 streams) and a have storm (4,096 hashes, 16 at once) grew RSS without bound
describe('memory under floods: what one peer can make the node hold', () => {
  it('the provider table never passes its cap, and a flooding peer holds at most its share', () => {
    const table = new ProviderTable()
    const honest = Array.from({ length: 1000 }, sha1)
    for (const s of honest) table.add(s, 'honest-peer', 10)
    // a flood of three times a peer's share; peer ids arrive as fresh strings
    for (let i = 0; i < 3 * MAX_PROVIDER_RECORDS_PER_PEER; i++) {
      table.add(sha1(), `flooder-${'x'.repeat(1)}`.slice(0), Number.MAX_SAFE_INTEGER)
      assert.ok(table.size <= MAX_PROVIDER_RECORDS)
    }
    assert.equal(table.recordsOf('flooder-x'), MAX_PROVIDER_RECORDS_PER_PEER)
    assert.ok(honest.every((s) => table.get(s).includes('honest-peer')), 'the flood pushed out no record of another peer')
    // many identities: each held to its share, the total to the cap
    const sybils = Math.ceil(MAX_PROVIDER_RECORDS / MAX_PROVIDER_RECORDS_PER_PEER) + 1
    for (let p = 0; p < sybils; p++) for (let i = 0; i < MAX_PROVIDER_RECORDS_PER_PEER + 10; i++) table.add(sha1(), `sybil-${p}`)
    assert.equal(table.size, MAX_PROVIDER_RECORDS)
    for (let p = 0; p < sybils; p++) assert.ok(table.recordsOf(`sybil-${p}`) <= MAX_PROVIDER_RECORDS_PER_PEER)
  })

  it('a peer that goes away frees its share; expired records free theirs', () => {
    const table = new ProviderTable({ maxPerPeer: 3, ttlMs: 1000 })
    for (let i = 0; i < 5; i++) table.add(sha1(), 'a', undefined, 0)
    assert.equal(table.recordsOf('a'), 3)
    table.forgetPeer('a')
    assert.equal(table.recordsOf('a'), 0)
    assert.equal(table.size, 0)
    const s = sha1()
    table.add(s, 'b', undefined, 0)
    table.add(s, 'c', undefined, 0)
    assert.deepEqual(table.get(s, 500), ['b', 'c'])
    assert.deepEqual(table.get(s, 2000), [])
    assert.equal(table.recordsOf('b') + table.recordsOf('c'), 0)
    assert.equal(table.size, 0)
  })

  it('a peer past its share of the provider table has its announce streams reset, the next ones unread', async () => {
    const net = new FakeNet()
    const server = await net.node()
    const client = await net.node()
    const table = new ProviderTable({ maxPerPeer: 1500 })
    let messages = 0
    const announce = announceProtocol()({
      libp2p: server,
      onAnnounce: (peer, blobs) => {
        messages++
        for (const b of blobs) table.add(b.sha1, peer, b.size)
        return table.accepts(peer)
      },
      accepts: (peer) => table.accepts(peer),
      logger: memoryLogger()
    })
    await announce.start()
    const flood = new Uint8ArrayList(...Array.from({ length: 8 }, maximalAnnounce))
    assert.equal((await rawExchange(await client.dialProtocol(server.peerId, ANNOUNCE_PROTOCOL), flood, 1024)).kind, 'reset')
    assert.equal(messages, 2, 'reading stopped at the message that took the peer past its share')
    assert.equal(table.recordsOf(client.peerId.toString()), 1500)
    assert.equal((await rawExchange(await client.dialProtocol(server.peerId, ANNOUNCE_PROTOCOL), flood, 1024)).kind, 'reset')
    assert.equal(messages, 2, 'the next stream was not read')
    await announce.stop()
  })

  it('a have storm from one peer is answered at most HAVE_SERVES_PER_PEER at a time, and every request is answered', async () => {
    const net = new FakeNet()
    const server = await net.node()
    const client = await net.node()
    let inFlight = 0
    let most = 0
    const gates: Array<() => void> = []
    class SlowBlobs extends MemoryBlobs {
      override async statMany (sha1s: string[]): Promise<Array<BlobInfo | undefined>> {
        inFlight++
        most = Math.max(most, inFlight)
        await new Promise<void>((resolve) => gates.push(resolve))
        inFlight--
        return super.statMany(sha1s)
      }
    }
    const serving = haveProtocol({ timeoutMs: 30_000 })({ libp2p: server, blobs: new SlowBlobs(), manifests: new MemoryManifests(), logger: memoryLogger() })
    await serving.start()
    const request = frame(HaveRequest.encode({ hashes: Array.from({ length: MAX_HAVE_HASHES }, () => randomBytes(20)) }))
    const storm = Array.from({ length: 16 }, async () => rawExchange(await client.dialProtocol(server.peerId, HAVE_PROTOCOL), request, MAX_HAVE_RESPONSE_BYTES))
    // let every request reach the server, then release the look-ups one by one
    let answered = 0
    const outcomes = Promise.all(storm.map(async (p) => { const o = await p; answered++; return o }))
    while (answered < storm.length) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      assert.ok(inFlight <= HAVE_SERVES_PER_PEER, `${inFlight} answers in progress for one peer`)
      gates.shift()?.()
    }
    assert.ok((await outcomes).every((o) => o.kind === 'answer'))
    assert.equal(most, HAVE_SERVES_PER_PEER)
    await serving.stop()
  })
})
