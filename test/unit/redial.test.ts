import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { memoryLogger } from '../../src/logger.js'
import { Redialer, type RedialInit, type RedialLibp2p } from '../../src/net/redial.js'

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** The slice of libp2p a Redialer uses: connections are a set we flip, dials are recorded. */
class FakeLibp2p extends EventTarget {
  status: RedialLibp2p['status'] = 'started'
  readonly connected = new Set<string>()
  readonly dials: Array<PeerId | Multiaddr | Multiaddr[]> = []
  /** Whether the next dials reach the peer. */
  reachable = false
  readonly stored = new Map<string, Multiaddr[]>()

  constructor (readonly peerId: PeerId) { super() }

  readonly peerStore = {
    get: async (id: PeerId) => {
      const addrs = this.stored.get(id.toString())
      if (addrs === undefined) throw new Error('not found')
      return { addresses: addrs.map((multiaddr) => ({ multiaddr })) }
    }
  }

  getConnections (id?: PeerId): unknown[] {
    return id !== undefined && this.connected.has(id.toString()) ? [{}] : []
  }

  async dial (target: PeerId | Multiaddr | Multiaddr[]): Promise<unknown> {
    this.dials.push(target)
    if (!this.reachable) throw new Error('ECONNREFUSED')
    return {}
  }

  connect (id: PeerId): void {
    this.connected.add(id.toString())
    this.dispatchEvent(new CustomEvent('peer:connect', { detail: id }))
  }

  disconnect (id: PeerId): void {
    this.connected.delete(id.toString())
    this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: id }))
  }
}

/** Lets the promise chains started by events and timers run (setImmediate is not mocked). */
async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Advances the mocked clock by `ms` and lets what it fired run. */
async function tick (ms: number): Promise<void> {
  mock.timers.tick(ms)
  await settle()
}

const TIMING: RedialInit = { initialDelayMs: 100, maxDelayMs: 400, jitter: 0.2, recentMs: 10_000, maxPeers: 2, random: () => 0.5 }

describe('Redialer', () => {
  let libp2p: FakeLibp2p
  let logger: ReturnType<typeof memoryLogger>
  let redialer: Redialer

  beforeEach(async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] })
    libp2p = new FakeLibp2p(await newPeerId())
    logger = memoryLogger('debug')
    redialer = new Redialer({ libp2p: libp2p as unknown as RedialLibp2p, logger }, TIMING)
  })

  afterEach(() => {
    redialer.stop()
    mock.timers.reset()
  })

  it('redials a peer that went away with doubling delays up to the cap, logging failures at debug', async () => {
    const peer = await newPeerId()
    libp2p.stored.set(peer.toString(), [multiaddr('/ip4/127.0.0.1/tcp/4001')])
    redialer.start()
    libp2p.connect(peer)
    libp2p.disconnect(peer)
    await settle()
    const dialsAfter = async (ms: number): Promise<number> => { await tick(ms); return libp2p.dials.length }
    assert.equal(await dialsAfter(99), 0)
    assert.equal(await dialsAfter(1), 1)
    assert.equal(await dialsAfter(199), 1)
    assert.equal(await dialsAfter(1), 2)
    assert.equal(await dialsAfter(400), 3)
    // capped: 400 again, not 800
    assert.equal(await dialsAfter(400), 4)
    // the stored address, with the peer's id on it
    assert.deepEqual((libp2p.dials[0] as Multiaddr[]).map((a) => a.toString()), [`/ip4/127.0.0.1/tcp/4001/p2p/${peer.toString()}`])
    const failures = logger.records.filter((r) => r.component === 'redial')
    assert.equal(failures.length, 4)
    assert.ok(failures.every((r) => r.level === 'debug'))
  })

  it('resets the back-off when the peer connects again, and stops redialling it while connected', async () => {
    const peer = await newPeerId()
    redialer.start()
    libp2p.connect(peer)
    libp2p.disconnect(peer)
    await settle()
    await tick(100)
    await tick(200)
    assert.equal(libp2p.dials.length, 2)
    // the peer comes back by itself (it dialled us)
    libp2p.connect(peer)
    await tick(10_000)
    assert.equal(libp2p.dials.length, 2)
    libp2p.disconnect(peer)
    await settle()
    await tick(100)
    assert.equal(libp2p.dials.length, 3, 'the first redial after the reconnection comes after the initial delay')
    // no stored addresses: the peer id is dialled (libp2p looks its addresses up)
    assert.ok((libp2p.dials[2] as PeerId).equals(peer))
  })

  it('dials bootstrap peers not connected at start, and keeps redialling them past the recent window', async () => {
    const down = await newPeerId()
    const up = await newPeerId()
    libp2p.connected.add(up.toString())
    redialer.start([
      { addr: multiaddr(`/ip4/10.0.0.1/tcp/1/p2p/${down.toString()}`), peer: down },
      { addr: multiaddr(`/ip4/10.0.0.2/tcp/1/p2p/${up.toString()}`), peer: up }
    ])
    await tick(100)
    assert.deepEqual(libp2p.dials.map((d) => (d as Multiaddr[])[0].toString()), [`/ip4/10.0.0.1/tcp/1/p2p/${down.toString()}`])
    for (let i = 0; i < 30; i++) await tick(400)
    assert.ok(libp2p.dials.length > 25, `still redialled after ${TIMING.recentMs} ms: ${libp2p.dials.length} dials`)
    libp2p.reachable = true
    await tick(400)
    libp2p.connect(down)
    const dials = libp2p.dials.length
    await tick(10_000)
    assert.equal(libp2p.dials.length, dials)
  })

  it('forgets a recent peer once it has been away longer than the recent window', async () => {
    const peer = await newPeerId()
    redialer.start()
    libp2p.connect(peer)
    libp2p.disconnect(peer)
    await settle()
    for (let i = 0; i < 30; i++) await tick(400)
    const dials = libp2p.dials.length
    assert.ok(dials < 30)
    assert.deepEqual(redialer.remembered(), [])
    await tick(60_000)
    assert.equal(libp2p.dials.length, dials)
  })

  it('remembers at most maxPeers recent peers (the least recent go), and connect peers besides', async () => {
    const [a, b, c, given] = await Promise.all([newPeerId(), newPeerId(), newPeerId(), newPeerId()])
    redialer.start()
    redialer.remember(multiaddr(`/ip4/10.0.0.9/tcp/1/p2p/${given.toString()}`), given)
    for (const p of [a, b, c]) libp2p.connect(p)
    assert.deepEqual(new Set(redialer.remembered()), new Set([given, b, c].map(String)))
  })

  it('leaves no timer behind and reacts to nothing after stop', async () => {
    const peer = await newPeerId()
    redialer.start()
    libp2p.connect(peer)
    libp2p.disconnect(peer)
    await settle()
    redialer.stop()
    await tick(60_000)
    libp2p.connect(peer)
    libp2p.disconnect(peer)
    await tick(60_000)
    assert.equal(libp2p.dials.length, 0)
    assert.deepEqual(redialer.remembered(), [])
  })
})
