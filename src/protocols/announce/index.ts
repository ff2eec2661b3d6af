import type { Stream } from '@libp2p/interface'
import type { TroveLibp2p } from '../../net/libp2p.js'
import { bytesToSha1, sha1ToBytes } from '../../uri.js'
import { abortStream, deadline } from '../deadline.js'
import { ProtocolError } from '../errors.js'
import { StreamReader, frame, send } from '../stream-io.js'
import { Announce } from './pb/announce.js'
// the generated codec writes some uint64 values wrongly without this patch (protons-runtime 7.1.2, see the file)
import '../uint64-fix.js'
import { ANNOUNCE_BATCH_MS, ANNOUNCE_MAX_INBOUND_STREAMS, ANNOUNCE_MAX_OUTBOUND_STREAMS, ANNOUNCE_PROTOCOL, ANNOUNCE_TIMEOUT_MS, MAX_ANNOUNCE_BLOBS, MAX_ANNOUNCE_MESSAGE_BYTES, MAX_ANNOUNCE_MESSAGES_PER_STREAM, MAX_ANNOUNCE_QUEUE } from './constants.js'

export { ANNOUNCE_PROTOCOL } from './constants.js'

/** A blob a peer says it holds. */
export interface AnnouncedBlob {
  sha1: string
  size: number
}

export interface AnnounceComponents {
  libp2p: TroveLibp2p
  /** Told what a peer announced, message by message (the node records it as providers). */
  onAnnounce: (peer: string, blobs: AnnouncedBlob[]) => void
}

export interface AnnounceInit {
  batchMs?: number
}

/**
 * `/trove/announce/1.0.0`: tells connected peers which blobs this node has gained, batched and
 * deduplicated; hands what peers announce to `onAnnounce` (see protocols/announce.md).
 */
export class AnnounceProtocol {
  private readonly queue = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private readonly batchMs: number
  private flushing: Promise<void> = Promise.resolve()
  /** Announcements received (for status and tests). */
  received = 0

  constructor (private readonly components: AnnounceComponents, init: AnnounceInit = {}) {
    this.batchMs = init.batchMs ?? ANNOUNCE_BATCH_MS
  }

  async start (): Promise<void> {
    await this.components.libp2p.handle(ANNOUNCE_PROTOCOL, (stream, connection) => {
      void this.receive(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: ANNOUNCE_MAX_INBOUND_STREAMS, maxOutboundStreams: ANNOUNCE_MAX_OUTBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    await this.components.libp2p.unhandle(ANNOUNCE_PROTOCOL)
  }

  /** Queues a blob to announce; duplicates within a batch collapse. */
  announce (sha1: string, size: number): void {
    this.queue.delete(sha1)
    this.queue.set(sha1, size)
    while (this.queue.size > MAX_ANNOUNCE_QUEUE) {
      const oldest = this.queue.keys().next().value
      if (oldest === undefined) break
      this.queue.delete(oldest)
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.flushing = this.flushing.then(async () => this.flush()).catch(() => {})
    }, this.batchMs)
  }

  /** Sends everything queued to every connected peer now. */
  async flush (): Promise<void> {
    if (this.queue.size === 0) return
    const blobs = [...this.queue].map(([sha1, size]) => ({ hash: sha1ToBytes(sha1) as Uint8Array<ArrayBuffer>, size: BigInt(size) }))
    this.queue.clear()
    const messages: Uint8Array[] = []
    for (let i = 0; i < blobs.length; i += MAX_ANNOUNCE_BLOBS) {
      messages.push(Announce.encode({ blobs: blobs.slice(i, i + MAX_ANNOUNCE_BLOBS) }))
    }
    const peers = this.components.libp2p.getPeers()
    await Promise.allSettled(peers.map(async (peer) => {
      const signal = deadline(ANNOUNCE_TIMEOUT_MS)
      let stream: Stream | undefined
      try {
        stream = await this.components.libp2p.dialProtocol(peer, ANNOUNCE_PROTOCOL, { signal })
        // stream limits cap messages per stream; a longer batch goes on further streams
        for (let i = 0; i < messages.length; i += MAX_ANNOUNCE_MESSAGES_PER_STREAM) {
          if (i > 0) {
            await stream.close({ signal })
            stream = await this.components.libp2p.dialProtocol(peer, ANNOUNCE_PROTOCOL, { signal })
          }
          for (const m of messages.slice(i, i + MAX_ANNOUNCE_MESSAGES_PER_STREAM)) await send(stream, frame(m), signal)
        }
        await stream.close({ signal })
      } catch (err) {
        abortStream(stream, err)
      }
    }))
  }

  private async receive (stream: Stream, peerId: string): Promise<void> {
    const signal = deadline(ANNOUNCE_TIMEOUT_MS)
    try {
      const reader = new StreamReader(stream)
      for (let n = 0; ; n++) {
        const msg = await reader.readMessage(MAX_ANNOUNCE_MESSAGE_BYTES, signal)
        if (msg === undefined) break
        if (n >= MAX_ANNOUNCE_MESSAGES_PER_STREAM) throw new ProtocolError('too many announce messages on one stream')
        const announce = Announce.decode(msg, { limits: { blobs: MAX_ANNOUNCE_BLOBS } })
        const blobs: AnnouncedBlob[] = []
        let bad = false
        for (const blob of announce.blobs) {
          if (blob.hash.byteLength !== 20) { bad = true; break }
          blobs.push({ sha1: bytesToSha1(blob.hash), size: Number(blob.size) })
        }
        if (blobs.length > 0) this.components.onAnnounce(peerId, blobs)
        this.received += blobs.length
        // a bad hash ends the stream; the blobs before it in the message are kept
        if (bad) throw new ProtocolError('announced hash is not 20 bytes')
      }
      await stream.close({ signal })
    } catch (err) {
      abortStream(stream, err)
    }
  }
}
