/**
 * Ceiling (a) of bench/fetch.ts: raw TCP between two Node processes, the receiver hashing
 * every byte with sha1. No encryption, no muxer, no disk: what the machine can do at most.
 */
import { createHash } from 'node:crypto'
import net from 'node:net'
import { peakRssMB, resetPeakRss, serveIpc } from './net-ipc.js'
import { secondsSince } from './timing.js'

/** Size of each socket write: the same order as the store's read size. */
const SEND_BYTES = 1024 * 1024

let server: net.Server | undefined

serveIpc({
  /** Serves: read an 8-byte length, send that many bytes, end. */
  listen: async () => {
    const block = Buffer.alloc(SEND_BYTES, 0xa5)
    server = net.createServer((sock) => {
      sock.once('readable', function onReadable () {
        const head = sock.read(8) as Buffer | null
        if (head === null) { sock.once('readable', onReadable); return }
        let left = Number(head.readBigUInt64BE(0))
        const pump = (): void => {
          while (left > 0) {
            const n = Math.min(left, block.length)
            left -= n
            if (!sock.write(n === block.length ? block : block.subarray(0, n))) { sock.once('drain', pump); return }
          }
          sock.end()
        }
        pump()
      })
      sock.on('error', () => {})
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    return { port: (server.address() as net.AddressInfo).port }
  },
  receive: async (args: { port: number, bytes: number }) => {
    const rssBeforeMB = process.memoryUsage.rss() / (1024 * 1024)
    const reset = resetPeakRss()
    const begin = process.hrtime.bigint()
    const hash = createHash('sha1')
    let got = 0
    let firstByteMs: number | undefined
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(args.port, '127.0.0.1', () => {
        const head = Buffer.alloc(8)
        head.writeBigUInt64BE(BigInt(args.bytes))
        sock.write(head)
      })
      sock.on('data', (b: Buffer) => {
        firstByteMs ??= secondsSince(begin) * 1000
        hash.update(b)
        got += b.length
      })
      sock.once('end', () => { got === args.bytes ? resolve() : reject(new Error(`got ${got} of ${args.bytes} bytes`)) })
      sock.once('error', reject)
    })
    hash.digest()
    return { seconds: secondsSince(begin), bytes: got, firstByteMs, peakRssMB: peakRssMB(), peakRssCoversFetchOnly: reset, rssBeforeMB }
  }
}, async () => {
  await new Promise<void>((resolve) => server !== undefined ? server.close(() => resolve()) : resolve())
})
