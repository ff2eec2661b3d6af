/**
 * Ceiling (b) of bench/fetch.ts: one plain libp2p stream over the very stack Trove uses
 * (`createNetwork`: tcp + noise + yamux with the same window), a trivial protocol that streams N
 * bytes, the receiver hashing every byte with sha1. Trove's fetch is measured against this.
 */
import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createNetwork, type TroveLibp2p } from '../../src/net/libp2p.js'
import { peakRssMB, resetPeakRss, serveIpc } from './net-ipc.js'
import { secondsSince } from './timing.js'
import type { Encryption } from '../../src/net/constants.js'

const PROTOCOL = '/trove-bench/bytes/1.0.0'
/** Size of each send: the same as the store's read size, so the two senders behave alike. */
const SEND_BYTES = 1024 * 1024

let libp2p: TroveLibp2p | undefined

async function serve (stream: Stream): Promise<void> {
  const block = Buffer.alloc(SEND_BYTES, 0x5a)
  const head = await new Promise<Uint8Array>((resolve) => {
    stream.addEventListener('message', (evt) => { resolve(evt.data.subarray()) }, { once: true })
  })
  let left = Number(Buffer.from(head).readBigUInt64BE(0))
  try {
    while (left > 0) {
      const n = Math.min(left, block.length)
      left -= n
      if (!stream.send(n === block.length ? block : block.subarray(0, n))) await stream.onDrain()
    }
    await stream.close()
  } catch (err) {
    stream.abort(err as Error)
  }
}

serveIpc({
  start: async (args: { streamWindow?: number, encryption?: Encryption[] }) => {
    libp2p = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, streamWindow: args.streamWindow, encryption: args.encryption })
    await libp2p.handle(PROTOCOL, (stream) => { void serve(stream) })
    await libp2p.start()
    const addr = libp2p.getMultiaddrs().map((m) => m.toString()).find((a) => a.includes('127.0.0.1'))
    return { addr }
  },
  receive: async (args: { addr: string, bytes: number }) => {
    if (libp2p === undefined) throw new Error('start first')
    const rssBeforeMB = process.memoryUsage.rss() / (1024 * 1024)
    const reset = resetPeakRss()
    const begin = process.hrtime.bigint()
    const stream = await libp2p.dialProtocol(multiaddr(args.addr), PROTOCOL)
    const hash = createHash('sha1')
    let got = 0
    let firstByteMs: number | undefined
    const done = new Promise<void>((resolve, reject) => {
      stream.addEventListener('message', (evt) => {
        firstByteMs ??= secondsSince(begin) * 1000
        for (const b of evt.data instanceof Uint8Array ? [evt.data] : evt.data) hash.update(b)
        got += evt.data.byteLength
      })
      stream.addEventListener('close', (evt) => {
        if (evt.error !== undefined) reject(evt.error)
        else if (got !== args.bytes) reject(new Error(`got ${got} of ${args.bytes} bytes`))
        else resolve()
      })
    })
    const head = Buffer.alloc(8)
    head.writeBigUInt64BE(BigInt(args.bytes))
    stream.send(head)
    await stream.close()
    await done
    hash.digest()
    return { seconds: secondsSince(begin), bytes: got, firstByteMs, peakRssMB: peakRssMB(), peakRssCoversFetchOnly: reset, rssBeforeMB }
  }
}, async () => {
  await libp2p?.stop()
  libp2p = undefined
})
