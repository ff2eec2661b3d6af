import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { BlobNotFoundError, RangeNotSatisfiableError, isError } from '../../errors.js'
import { defaultLogger, type Logger } from '../../logger.js'
import type { BlobInfo } from '../../store/blob-store.js'
import { SHA1_BYTES, bytesToSha1, sha1ToBytes } from '../../uri.js'
import { abortStream, deadline, timeoutError } from '../deadline.js'
import { PeerTimeoutError, ProtocolError } from '../errors.js'
import { PeerSlots } from '../peer-slots.js'
import { StreamReader, frame, send } from '../stream-io.js'
import { LEN, VARINT, decodeStrict, type WireSchema } from '../strict-decode.js'
import { FETCH_DEADLINE_BASE_MS, FETCH_MAX_INBOUND_STREAMS, FETCH_MIN_BYTES_PER_SECOND, FETCH_MAX_OUTBOUND_STREAMS, FETCH_OPEN_TIMEOUT_MS, FETCH_PROTOCOL, FETCH_SESSIONS_PER_PEER, FETCH_STALL_TIMEOUT_MS, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_HEADER_BYTES, MAX_BATCHED_ANSWERS, MAX_REQUESTS_PER_STREAM, SMALL_ANSWER_BYTES } from './constants.js'
import type { AnswerInfo, BytesSink, FetchComponents, FetchInit, FetchProtocol, FetchSession, ManyHandlers, RangeRequest } from './index.js'
import { FetchRequest, FetchResponse } from './pb/fetch.js'
// the generated codec writes some uint64 values wrongly without this patch (protons-runtime 7.1.2, see the file)
import '../uint64-fix.js'

/** Wire types of pb/fetch.proto's fields, checked before the generated codec decodes. */
export const FETCH_WIRE = {
  FetchRequest: { 1: LEN, 2: VARINT, 3: VARINT },
  FetchResponse: { 1: VARINT, 2: VARINT, 3: VARINT, 4: LEN }
} satisfies Record<string, WireSchema>

/** The fetch protocol over the given components (see index.ts for the contract). */
export function fetchProtocol (init: FetchInit = {}): (components: FetchComponents) => FetchProtocol {
  return (components) => new FetchService(components, init)
}

/** An answer ready to send, or the function that streams a large one when its turn comes. */
type PreparedAnswer = Uint8ArrayList | ((stream: Stream) => Promise<void>)

/**
 * The absolute deadline of one request of `bytes` bytes (see FETCH_DEADLINE_BASE_MS): a base,
 * plus the bytes at the slowest rate allowed.
 */
export function requestDeadlineMs (bytes: number, init: Pick<FetchInit, 'deadlineBaseMs' | 'minBytesPerSecond'> = {}): number {
  return (init.deadlineBaseMs ?? FETCH_DEADLINE_BASE_MS) + Math.ceil(bytes * 1000 / (init.minBytesPerSecond ?? FETCH_MIN_BYTES_PER_SECOND))
}

/**
 * A signal that fires `ms` from now or when the caller's does, and `over(err)`, which turns an
 * abort by our deadline (not by the caller) into the PeerTimeoutError that penalises the peer.
 */
function requestTimer (ms: number, what: string, signal?: AbortSignal): { signal: AbortSignal, over: (err: unknown) => unknown } {
  const timer = AbortSignal.timeout(Math.max(0, ms))
  return {
    signal: signal !== undefined ? AbortSignal.any([signal, timer]) : timer,
    over: (err) => timer.aborted && signal?.aborted !== true ? new PeerTimeoutError(`${what} passed its deadline of ${ms} ms`, { cause: err }) : err
  }
}

class FetchService implements FetchProtocol {
  bytesServed = 0
  answersServed = 0
  private readonly stallTimeoutMs: number
  private readonly deadlines: Pick<FetchInit, 'deadlineBaseMs' | 'minBytesPerSecond'>
  private readonly slots = new PeerSlots(FETCH_SESSIONS_PER_PEER)
  private readonly log: Logger

  constructor (private readonly components: FetchComponents, init: FetchInit) {
    this.stallTimeoutMs = init.stallTimeoutMs ?? FETCH_STALL_TIMEOUT_MS
    this.deadlines = { deadlineBaseMs: init.deadlineBaseMs, minBytesPerSecond: init.minBytesPerSecond }
    this.log = (components.logger ?? defaultLogger()).forComponent('fetch')
  }

  async start (): Promise<void> {
    await this.components.libp2p.handle(FETCH_PROTOCOL, (stream, connection) => { void this.serve(stream, connection.remotePeer) }, {
      maxInboundStreams: FETCH_MAX_INBOUND_STREAMS,
      maxOutboundStreams: FETCH_MAX_OUTBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    await this.components.libp2p.unhandle(FETCH_PROTOCOL)
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    stream.inactivityTimeout = this.stallTimeoutMs
    const reader = new StreamReader(stream, undefined, this.stallTimeoutMs)
    try {
      for (let served = 0; ;) {
        // a request must be whole by its deadline: a client trickling it resets the stall timer
        const msg = await reader.readMessage(MAX_FETCH_REQUEST_BYTES, undefined, Date.now() + requestDeadlineMs(0, this.deadlines))
        if (msg === undefined) break
        // requests a pipelining client already sent are answered together: their look-ups and
        // reads overlap and their small answers leave in one send (bench/small)
        const batch = [decodeStrict(FetchRequest, msg, FETCH_WIRE.FetchRequest)]
        while (batch.length < MAX_BATCHED_ANSWERS && reader.hasMessage()) {
          batch.push(decodeStrict(FetchRequest, await reader.readMessage(MAX_FETCH_REQUEST_BYTES) as Uint8ArrayList, FETCH_WIRE.FetchRequest))
        }
        served += batch.length
        if (served > MAX_REQUESTS_PER_STREAM) throw new ProtocolError('too many requests on one stream')
        await this.answerAll(stream, batch)
      }
      await stream.close()
    } catch (err) {
      // the peer broke the protocol, stalled or went away: its stream ends, ours lose nothing
      this.log.debug(`serving ${peer.toString()} failed`, err)
      abortStream(stream, err)
    }
  }

  /** Answers requests in order; complete small answers are gathered into few sends. */
  private async answerAll (stream: Stream, reqs: FetchRequest[]): Promise<void> {
    // one index look-up for the batch instead of one per request
    const valid = reqs.filter((req) => req.hash.byteLength === SHA1_BYTES).map((req) => bytesToSha1(req.hash))
    const infos = new Map<string, BlobInfo>()
    for (const info of await this.components.blobs.statMany(valid)) if (info !== undefined) infos.set(info.sha1, info)
    const answers = await Promise.all(reqs.map(async (req) => this.prepare(req, infos)))
    let pending = new Uint8ArrayList()
    const flush = async (): Promise<void> => {
      if (pending.byteLength === 0) return
      const out = pending
      pending = new Uint8ArrayList()
      // one buffer, not the list of pieces: below the muxer each piece of a list is encrypted
      // and written to the socket on its own (three system calls per small answer, bench/small);
      // the copy costs far less
      const timer = requestTimer(requestDeadlineMs(out.byteLength, this.deadlines), 'sending answers')
      await send(stream, out.subarray(), timer.signal, this.stallTimeoutMs).catch((err: unknown) => { throw timer.over(err) })
    }
    for (const answer of answers) {
      if (answer instanceof Uint8ArrayList) {
        pending.append(answer)
        if (pending.byteLength >= SMALL_ANSWER_BYTES) await flush()
        continue
      }
      await flush()
      await answer(stream)
    }
    await flush()
  }

  /**
   * An answer ready to send (a status, or a small blob with its header), or, for a large range,
   * the function that streams it: its file is only opened when its turn comes.
   */
  private async prepare (req: FetchRequest, infos: Map<string, BlobInfo>): Promise<PreparedAnswer> {
    if (req.hash.byteLength !== SHA1_BYTES) return status(FetchResponse.Status.BAD_REQUEST, `hash must be ${SHA1_BYTES} bytes`)
    const sha1 = bytesToSha1(req.hash)
    const info = infos.get(sha1)
    if (info === undefined) return status(FetchResponse.Status.NOT_FOUND, 'not stored here')
    const offset = Number(req.offset)
    const length = req.length === 0n ? info.size - offset : Number(req.length)
    if (offset > info.size || length < 0 || offset + length > info.size) {
      return status(FetchResponse.Status.RANGE_NOT_SATISFIABLE, `blob has ${info.size} bytes`, info.size)
    }
    const header = (): Uint8ArrayList => frame(FetchResponse.encode({ status: FetchResponse.Status.OK, size: BigInt(info.size), length: BigInt(length), message: '' }))
    if (length <= SMALL_ANSWER_BYTES) {
      // one positioned read: thousands of small blobs cost little each (bench/small)
      try {
        const answer = header()
        answer.append(await this.components.blobs.readBytes(sha1, { offset, length, info }))
        this.bytesServed += length
        this.answersServed++
        return answer
      } catch (err) {
        return this.readFailed(sha1, err)
      }
    }
    return async (stream) => {
      let source
      try {
        source = await this.components.blobs.read(sha1, { offset, length, info })
      } catch (err) {
        await send(stream, this.readFailed(sha1, err), undefined, this.stallTimeoutMs)
        return
      }
      // the header goes out with the first bytes in one send
      let first: Uint8ArrayList | undefined = header()
      // from when its turn comes: a client that takes the bytes slowly cannot hold it for ever
      const timer = requestTimer(requestDeadlineMs(length, this.deadlines), `sending ${length} bytes`)
      try {
        for await (const bytes of source) {
          if (first !== undefined) first.append(bytes)
          await send(stream, first ?? bytes, timer.signal, this.stallTimeoutMs)
          first = undefined
          this.bytesServed += bytes.byteLength
        }
        if (first !== undefined) await send(stream, first, timer.signal, this.stallTimeoutMs)
        this.answersServed++
      } catch (err) {
        throw timer.over(err)
      } finally {
        source.destroy()
      }
    }
  }

  /** The answer to a read that failed after its stat: the blob was deleted meanwhile, or our storage failed. */
  private readFailed (sha1: string, err: unknown): Uint8ArrayList {
    if (isError(err, BlobNotFoundError)) return status(FetchResponse.Status.NOT_FOUND, 'not stored here')
    this.log.warn(`reading sha1://${sha1} for a peer failed`, err)
    return status(FetchResponse.Status.INTERNAL_ERROR, 'read failed')
  }

  async open (peer: PeerId, options: AbortOptions = {}): Promise<FetchSession> {
    // waiting for a slot is not part of the open deadline: it lasts as long as others' transfers
    const release = await this.slots.acquire(peer.toString(), options.signal)
    const signal = deadline(FETCH_OPEN_TIMEOUT_MS, options.signal)
    try {
      const stream = await this.components.libp2p.dialProtocol(peer, FETCH_PROTOCOL, { signal })
      stream.inactivityTimeout = this.stallTimeoutMs
      stream.addEventListener('close', release, { once: true })
      return new StreamSession(stream, peer, release, this.stallTimeoutMs, this.deadlines)
    } catch (err) {
      release()
      throw timeoutError(err, `opening a fetch stream to ${peer.toString()}`, signal)
    }
  }
}

function status (code: FetchResponse.Status, message: string, size = 0): Uint8ArrayList {
  return frame(FetchResponse.encode({ status: code, size: BigInt(size), length: 0n, message }))
}

/** The client side of one fetch stream (see FetchSession). */
class StreamSession implements FetchSession {
  private readonly reader: StreamReader
  private closed = false

  /** `release` frees this session's slot among those open to the peer (see FETCH_SESSIONS_PER_PEER). */
  constructor (private readonly stream: Stream, readonly peer: PeerId, private readonly release: () => void = () => {}, stallTimeoutMs?: number,
    private readonly deadlines: Pick<FetchInit, 'deadlineBaseMs' | 'minBytesPerSecond'> = {}) {
    this.reader = new StreamReader(stream, undefined, stallTimeoutMs)
  }

  async ask (reqs: RangeRequest | RangeRequest[], options: AbortOptions = {}): Promise<void> {
    const out = new Uint8ArrayList()
    for (const req of Array.isArray(reqs) ? reqs : [reqs]) out.append(frame(encodeRequest(req)))
    try {
      // one buffer: each piece of a list would be encrypted and written on its own
      await send(this.stream, out.subarray(), options.signal)
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  async * answer (req: RangeRequest, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    yield * this.receive(req, options.signal)
  }

  async * get (req: RangeRequest, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    await this.ask(req, options)
    yield * this.answer(req, options)
  }

  async many (reqs: RangeRequest[], inFlight: number, handlers: ManyHandlers, options: AbortOptions = {}): Promise<void> {
    let asked = 0
    // requests go out in batches, refilled once half of those in flight are answered, each batch
    // in one send: one muxer frame and one socket write per batch instead of one per answer
    const askMore = async (answered: number): Promise<void> => {
      if (asked >= reqs.length || asked - answered > inFlight / 2) return
      const end = Math.min(reqs.length, answered + inFlight)
      const batch = reqs.slice(asked, end)
      asked = end
      await this.ask(batch, options)
    }
    await askMore(0)
    for (const [i, req] of reqs.entries()) {
      let sink: BytesSink = () => {}
      let info: AnswerInfo = { size: 0, length: 0 }
      try {
        const onHeader = async (header: AnswerInfo): Promise<void> => {
          info = header
          sink = await handlers.sinkFor(req, header.size)
        }
        for await (const piece of this.receive(req, options.signal, onHeader)) await sink(piece)
      } catch (err) {
        if (!isError(err, BlobNotFoundError)) throw err
        handlers.onMissing(req, err)
        await askMore(i + 1)
        continue
      }
      await handlers.done(req, info)
      await askMore(i + 1)
    }
  }

  /**
   * The answer to the oldest request outstanding: its header, then its bytes. This and `ask` are
   * where a failed exchange resets the stream; a NOT_FOUND answer has no bytes to follow, so the
   * stream is still in step and the next answer can be read.
   */
  private async * receive (req: RangeRequest, signal?: AbortSignal, onHeader?: (info: AnswerInfo) => Promise<void>): AsyncGenerator<Uint8Array> {
    // an absolute deadline from the start of the answer (a peer trickling it resets the stall
    // timer, not this); the reader enforces it with the timer each wait has anyway, as one
    // timer and signal per answer cost the small-blob loop a third more CPU per blob
    const started = Date.now()
    try {
      const info = await this.header(req, signal, started + requestDeadlineMs(0, this.deadlines))
      await onHeader?.(info)
      yield * this.reader.readBytes(info.length, signal, started + requestDeadlineMs(info.length, this.deadlines))
    } catch (err) {
      if (!isError(err, BlobNotFoundError)) this.abort(err)
      throw err
    }
  }

  private async header (req: RangeRequest, signal?: AbortSignal, deadlineAt?: number): Promise<AnswerInfo> {
    const msg = await this.reader.readMessage(MAX_FETCH_RESPONSE_HEADER_BYTES, signal, deadlineAt)
    if (msg === undefined) throw new ProtocolError('peer closed the fetch stream without answering')
    const res = decodeStrict(FetchResponse, msg, FETCH_WIRE.FetchResponse)
    const size = Number(res.size)
    switch (res.status) {
      case FetchResponse.Status.OK: break
      case FetchResponse.Status.NOT_FOUND: throw new BlobNotFoundError(`peer ${this.peer.toString()} does not have sha1://${req.sha1}`)
      case FetchResponse.Status.RANGE_NOT_SATISFIABLE: throw new RangeNotSatisfiableError(`peer ${this.peer.toString()}: range outside blob of ${size} bytes`)
      default: throw new ProtocolError(`peer ${this.peer.toString()} answered ${FetchResponse.Status[res.status] ?? res.status}: ${res.message.slice(0, 200)}`)
    }
    const length = Number(res.length)
    const wanted = req.length ?? (size - (req.offset ?? 0))
    if (length !== wanted) throw new ProtocolError(`peer ${this.peer.toString()} offered ${length} bytes, ${wanted} were asked for`)
    return { size, length }
  }

  abort (err: unknown): void {
    this.closed = true
    abortStream(this.stream, err)
    this.release()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.stream.close({ signal: AbortSignal.timeout(FETCH_OPEN_TIMEOUT_MS) })
    } catch (err) {
      abortStream(this.stream, err)
    } finally {
      this.release()
    }
  }
}

function encodeRequest (req: RangeRequest): Uint8Array {
  return FetchRequest.encode({
    hash: sha1ToBytes(req.sha1) as Uint8Array<ArrayBuffer>,
    offset: BigInt(req.offset ?? 0),
    length: BigInt(req.length ?? 0)
  })
}
