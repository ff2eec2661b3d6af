import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import { defaultLogger, type Logger } from '../../logger.js'
import { SHA1_BYTES, bytesToSha1, sha1ToBytes } from '../../uri.js'
import { abortStream, deadline, timeoutError } from '../deadline.js'
import { ProtocolError } from '../errors.js'
import { PeerSlots } from '../peer-slots.js'
import { StreamReader, frame, frameParts, send } from '../stream-io.js'
import { LEN, VARINT, decodeStrict, type WireSchema } from '../strict-decode.js'
import { HAVE_QUERIES_PER_PEER, HAVE_SERVES_MAX, HAVE_SERVES_PER_PEER, HAVE_MAX_INBOUND_STREAMS, HAVE_MAX_OUTBOUND_STREAMS, HAVE_PROTOCOL, HAVE_TIMEOUT_MS, MAX_HAVE_HASHES, MAX_HAVE_REQUEST_BYTES, MAX_HAVE_RESPONSE_BYTES } from './constants.js'
import type { HaveAnswer, HaveComponents, HaveInit, HaveProtocol } from './index.js'
import { HaveRequest, HaveResponse } from './pb/have.js'
// the generated codec writes some uint64 values wrongly without this patch (protons-runtime 7.1.2, see the file)
import '../uint64-fix.js'

/**
 * Hashes of a request looked up and encoded together: a request of 4,096 is answered in slices, so
 * an answer never holds 4,096 entry objects and their strings at once (issue 13 item 5).
 */
const LOOKUP_SLICE = 512

/** Wire types of pb/have.proto's fields, checked before the generated codec decodes. */
export const HAVE_WIRE = {
  HaveRequest: { 1: LEN },
  HaveResponse: { 1: { 1: LEN, 2: VARINT, 3: VARINT, 4: LEN } }
} satisfies Record<string, WireSchema>

/** The have protocol over the given components (see index.ts for the contract). */
export function haveProtocol (init: HaveInit = {}): (components: HaveComponents) => HaveProtocol {
  return (components) => new HaveService(components, init)
}

class HaveService implements HaveProtocol {
  private readonly timeoutMs: number
  private readonly slots = new PeerSlots(HAVE_QUERIES_PER_PEER)
  /** Answers in progress per asking peer, and (under one key) in all. */
  private readonly serving = new PeerSlots(HAVE_SERVES_PER_PEER)
  private readonly servingAll = new PeerSlots(HAVE_SERVES_MAX)
  private readonly log: Logger

  constructor (private readonly components: HaveComponents, init: HaveInit) {
    this.timeoutMs = init.timeoutMs ?? HAVE_TIMEOUT_MS
    this.log = (components.logger ?? defaultLogger()).forComponent('have')
  }

  async start (): Promise<void> {
    await this.components.libp2p.handle(HAVE_PROTOCOL, (stream, connection) => { void this.serve(stream, connection.remotePeer) }, {
      maxInboundStreams: HAVE_MAX_INBOUND_STREAMS,
      maxOutboundStreams: HAVE_MAX_OUTBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    await this.components.libp2p.unhandle(HAVE_PROTOCOL)
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const signal = deadline(this.timeoutMs)
    const releases: Array<() => void> = []
    try {
      // a request is read only once it can be answered: what waits holds a stream, not an answer
      releases.push(await this.serving.acquire(peer.toString(), signal))
      releases.push(await this.servingAll.acquire('', signal))
      const reader = new StreamReader(stream)
      const msg = await reader.readMessage(MAX_HAVE_REQUEST_BYTES, signal)
      if (msg === undefined) throw new ProtocolError('empty have request')
      const req = decodeStrict(HaveRequest, msg, HAVE_WIRE.HaveRequest, { limits: { hashes: MAX_HAVE_HASHES } })
      for (const hash of req.hashes) if (hash.byteLength !== SHA1_BYTES) throw new ProtocolError(`hash is not ${SHA1_BYTES} bytes`)
      const parts: Uint8Array[] = []
      for (let from = 0; from < req.hashes.length; from += LOOKUP_SLICE) {
        parts.push(await this.answer(req.hashes.slice(from, from + LOOKUP_SLICE)))
      }
      await send(stream, frameParts(parts), signal)
      await stream.close({ signal })
    } catch (err) {
      // the peer broke the protocol, stalled or went away: its stream ends, ours lose nothing
      this.log.debug(`serving ${peer.toString()} failed`, err)
      abortStream(stream, err)
    } finally {
      for (const release of releases) release()
    }
  }

  /** The encoded answer for some hashes of a request. */
  private async answer (hashes: Array<Uint8Array<ArrayBuffer>>): Promise<Uint8Array> {
    const sha1s = hashes.map((hash) => bytesToSha1(hash))
    // one index look-up for the slice and one for the manifests of what is held, instead of two in
    // turn per hash: a fetchMany of 10,000 small blobs waited ~20,000 round trips here
    const infos = await this.components.blobs.statMany(sha1s)
    const held = sha1s.filter((_, i) => infos[i] !== undefined)
    const found = held.length > 0 ? await this.components.manifests.getMany(held) : []
    const manifests = new Map<string, string>()
    for (const [i, sha1] of held.entries()) {
      const manifest = found[i]
      if (manifest !== undefined) manifests.set(sha1, manifest)
    }
    return HaveResponse.encode({
      entries: hashes.map((hash, i) => {
        const info = infos[i]
        const manifest = manifests.get(sha1s[i])
        return {
          hash,
          have: info !== undefined,
          size: BigInt(info?.size ?? 0),
          ...(manifest !== undefined ? { manifest: sha1ToBytes(manifest) as Uint8Array<ArrayBuffer> } : {})
        }
      })
    })
  }

  async query (peer: PeerId, sha1s: string[], options: AbortOptions = {}): Promise<HaveAnswer[]> {
    if (sha1s.length > MAX_HAVE_HASHES) throw new RangeError(`at most ${MAX_HAVE_HASHES} hashes per have request`)
    // a burst of queries waits here rather than overrunning the peer's stream limit (a reset)
    const release = await this.slots.acquire(peer.toString(), options.signal)
    const signal = deadline(this.timeoutMs, options.signal)
    let stream
    try {
      stream = await this.components.libp2p.dialProtocol(peer, HAVE_PROTOCOL, { signal })
      const reader = new StreamReader(stream)
      await send(stream, frame(HaveRequest.encode({ hashes: sha1s.map((s) => sha1ToBytes(s) as Uint8Array<ArrayBuffer>) })), signal)
      await stream.close({ signal })
      const msg = await reader.readMessage(MAX_HAVE_RESPONSE_BYTES, signal)
      if (msg === undefined) throw new ProtocolError('peer closed the have stream without answering')
      const res = decodeStrict(HaveResponse, msg, HAVE_WIRE.HaveResponse, { limits: { entries: MAX_HAVE_HASHES } })
      if (res.entries.length !== sha1s.length) throw new ProtocolError(`have answer has ${res.entries.length} entries for ${sha1s.length} hashes`)
      return res.entries.map((e, i) => {
        const sha1 = bytesToSha1(e.hash)
        if (sha1 !== sha1s[i]) throw new ProtocolError('have answer is out of order')
        const answer: HaveAnswer = { sha1, have: e.have }
        if (e.have) answer.size = Number(e.size)
        if (e.have && e.manifest !== undefined && e.manifest.byteLength === SHA1_BYTES) answer.manifest = bytesToSha1(e.manifest)
        return answer
      })
    } catch (err) {
      abortStream(stream, err)
      throw timeoutError(err, `have request to ${peer.toString()}`, signal)
    } finally {
      release()
    }
  }
}
