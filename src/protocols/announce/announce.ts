import type { Stream } from '@libp2p/interface'
import { defaultLogger, type Logger } from '../../logger.js'
import { SHA1_BYTES, bytesToSha1, sha1ToBytes } from '../../uri.js'
import { abortStream, deadline } from '../deadline.js'
import { ProtocolError } from '../errors.js'
import { StreamReader, frame, send } from '../stream-io.js'
import { LEN, VARINT, decodeStrict, type WireSchema } from '../strict-decode.js'
import { ANNOUNCE_BATCH_MS, ANNOUNCE_MAX_INBOUND_STREAMS, ANNOUNCE_MAX_OUTBOUND_STREAMS, ANNOUNCE_PROTOCOL, ANNOUNCE_TIMEOUT_MS, MAX_ANNOUNCE_BLOBS, MAX_ANNOUNCE_MESSAGE_BYTES, MAX_ANNOUNCE_MESSAGES_PER_STREAM, MAX_ANNOUNCE_QUEUE } from './constants.js'
import type { AnnounceComponents, AnnounceInit, AnnounceProtocol, AnnouncedBlob } from './index.js'
import { Announce } from './pb/announce.js'
// the generated codec writes some uint64 values wrongly without this patch (protons-runtime 7.1.2, see the file)
import '../uint64-fix.js'

/** Wire types of pb/announce.proto's fields, checked before the generated codec decodes. */
export const ANNOUNCE_WIRE = {
  Announce: { 1: { 1: LEN, 2: VARINT } }
} satisfies Record<string, WireSchema>

/** The announce protocol over the given components (see index.ts for the contract). */
export function announceProtocol (init: AnnounceInit = {}): (components: AnnounceComponents) => AnnounceProtocol {
  return (components) => new AnnounceService(components, init)
}

class AnnounceService implements AnnounceProtocol {
  received = 0
  private readonly queue = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private readonly batchMs: number
  private flushing: Promise<void> = Promise.resolve()
  private readonly log: Logger

  constructor (private readonly components: AnnounceComponents, init: AnnounceInit) {
    this.batchMs = init.batchMs ?? ANNOUNCE_BATCH_MS
    this.log = (components.logger ?? defaultLogger()).forComponent('announce')
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
      // nobody awaits a batch sent on the timer: a failure is logged (peers can still ask with have)
      this.flushing = this.flushing.then(async () => this.flush()).catch((err: unknown) => {
        this.log.warn('sending announcements failed', err)
      })
    }, this.batchMs)
  }

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
        // a peer that went away or does not speak the protocol: expected, and it can still ask
        // with have, so not worth a warning
        this.log.debug(`announcing to ${peer.toString()} failed`, err)
        abortStream(stream, err)
      }
    }))
  }

  private async receive (stream: Stream, peerId: string): Promise<void> {
    const signal = deadline(ANNOUNCE_TIMEOUT_MS)
    try {
      // a peer past its share is not read: a flood costs this node a reset per stream, not a decode per message
      if (this.components.accepts?.(peerId) === false) throw new ProtocolError('peer announced more than its share; not read now')
      const reader = new StreamReader(stream)
      for (let n = 0; ; n++) {
        const msg = await reader.readMessage(MAX_ANNOUNCE_MESSAGE_BYTES, signal)
        if (msg === undefined) break
        if (n >= MAX_ANNOUNCE_MESSAGES_PER_STREAM) throw new ProtocolError('too many announce messages on one stream')
        const announce = decodeStrict(Announce, msg, ANNOUNCE_WIRE.Announce, { limits: { blobs: MAX_ANNOUNCE_BLOBS } })
        const blobs: AnnouncedBlob[] = []
        let bad = false
        for (const blob of announce.blobs) {
          if (blob.hash.byteLength !== SHA1_BYTES) { bad = true; break }
          blobs.push({ sha1: bytesToSha1(blob.hash), size: Number(blob.size) })
        }
        const more = blobs.length > 0 ? this.components.onAnnounce(peerId, blobs) : true
        this.received += blobs.length
        if (more === false) throw new ProtocolError('peer announced more than its share')
        // a bad hash ends the stream; the blobs before it in the message are kept
        if (bad) throw new ProtocolError(`announced hash is not ${SHA1_BYTES} bytes`)
      }
      await stream.close({ signal })
    } catch (err) {
      // the peer broke the protocol, stalled or went away: its stream ends, ours lose nothing
      this.log.debug(`receiving announcements from ${peerId} failed`, err)
      abortStream(stream, err)
    }
  }
}
