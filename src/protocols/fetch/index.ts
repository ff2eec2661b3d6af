import type { PeerId, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { BlobNotFoundError, RangeNotSatisfiableError, isError } from '../../errors.js'
import type { TroveLibp2p } from '../../net/libp2p.js'
import type { BlobInfo, BlobStore } from '../../store/blob-store.js'
import { bytesToSha1, sha1ToBytes } from '../../uri.js'
import { abortStream, deadline, timeoutError } from '../deadline.js'
import { ProtocolError } from '../errors.js'
import { PeerSlots } from '../peer-slots.js'
import { StreamReader, frame, send } from '../stream-io.js'
import { FETCH_MAX_INBOUND_STREAMS, FETCH_MAX_OUTBOUND_STREAMS, FETCH_OPEN_TIMEOUT_MS, FETCH_PROTOCOL, FETCH_SESSIONS_PER_PEER, FETCH_STALL_TIMEOUT_MS, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_HEADER_BYTES, MAX_BATCHED_ANSWERS, MAX_REQUESTS_PER_STREAM, SMALL_ANSWER_BYTES } from './constants.js'
import { FetchRequest, FetchResponse } from './pb/fetch.js'
// the generated codec writes some uint64 values wrongly without this patch (protons-runtime 7.1.2, see the file)
import '../uint64-fix.js'

export { FETCH_PROTOCOL } from './constants.js'

export interface FetchComponents {
  libp2p: TroveLibp2p
  store: BlobStore
}

export interface FetchInit {
  stallTimeoutMs?: number
}

export interface RangeRequest {
  sha1: string
  offset?: number
  /** Bytes from offset; absent means to the end. */
  length?: number
}

/** Receives one answer's bytes; resolves when they are safely consumed (back-pressure). */
export type BytesSink = (chunk: Uint8Array) => Promise<void> | void

/** `/trove/fetch/1.0.0`: serves and requests blobs and byte ranges (see protocols/fetch.md). */
export class FetchProtocol {
  readonly stallTimeoutMs: number
  /** Bytes served to peers since start (for status). */
  bytesServed = 0
  private readonly slots = new PeerSlots(FETCH_SESSIONS_PER_PEER)

  constructor (private readonly components: FetchComponents, init: FetchInit = {}) {
    this.stallTimeoutMs = init.stallTimeoutMs ?? FETCH_STALL_TIMEOUT_MS
  }

  async start (): Promise<void> {
    await this.components.libp2p.handle(FETCH_PROTOCOL, (stream) => { void this.serve(stream) }, {
      maxInboundStreams: FETCH_MAX_INBOUND_STREAMS,
      maxOutboundStreams: FETCH_MAX_OUTBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    await this.components.libp2p.unhandle(FETCH_PROTOCOL)
  }

  private async serve (stream: Stream): Promise<void> {
    stream.inactivityTimeout = this.stallTimeoutMs
    const reader = new StreamReader(stream, undefined, this.stallTimeoutMs)
    try {
      for (let served = 0; ;) {
        const msg = await reader.readMessage(MAX_FETCH_REQUEST_BYTES)
        if (msg === undefined) break
        // requests a pipelining client already sent are answered together: their look-ups and
        // reads overlap and their small answers leave in one send (bench/small)
        const batch = [FetchRequest.decode(msg)]
        while (batch.length < MAX_BATCHED_ANSWERS && reader.hasMessage()) {
          batch.push(FetchRequest.decode(await reader.readMessage(MAX_FETCH_REQUEST_BYTES) as Uint8ArrayList))
        }
        served += batch.length
        if (served > MAX_REQUESTS_PER_STREAM) throw new ProtocolError('too many requests on one stream')
        await this.answerAll(stream, batch)
      }
      await stream.close()
    } catch (err) {
      abortStream(stream, err)
    }
  }

  /** Answers requests in order; complete small answers are gathered into few sends. */
  private async answerAll (stream: Stream, reqs: FetchRequest[]): Promise<void> {
    // one index look-up for the batch instead of one per request
    const valid = reqs.filter((req) => req.hash.byteLength === 20).map((req) => bytesToSha1(req.hash))
    const infos = new Map<string, BlobInfo>()
    for (const info of await this.components.store.statMany(valid)) if (info !== undefined) infos.set(info.sha1, info)
    const answers = await Promise.all(reqs.map(async (req) => this.prepare(req, infos)))
    let pending = new Uint8ArrayList()
    const flush = async (): Promise<void> => {
      if (pending.byteLength === 0) return
      const out = pending
      pending = new Uint8ArrayList()
      // one buffer, not the list of pieces: below the muxer each piece of a list is encrypted
      // and written to the socket on its own (three system calls per small answer, bench/small);
      // the copy costs far less
      await send(stream, out.subarray(), undefined, this.stallTimeoutMs)
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
  private async prepare (req: FetchRequest, infos: Map<string, BlobInfo>): Promise<Uint8ArrayList | ((stream: Stream) => Promise<void>)> {
    const status = (code: FetchResponse.Status, message: string, size = 0): Uint8ArrayList =>
      frame(FetchResponse.encode({ status: code, size: BigInt(size), length: 0n, message }))
    if (req.hash.byteLength !== 20) return status(FetchResponse.Status.BAD_REQUEST, 'hash must be 20 bytes')
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
        answer.append(await this.components.store.readBytes(sha1, { offset, length, info }))
        this.bytesServed += length
        return answer
      } catch (err) {
        // deleted between stat and read
        return isError(err, BlobNotFoundError)
          ? status(FetchResponse.Status.NOT_FOUND, 'not stored here')
          : status(FetchResponse.Status.INTERNAL_ERROR, 'read failed')
      }
    }
    return async (stream) => {
      let source
      try {
        source = await this.components.store.read(sha1, { offset, length, info })
      } catch (err) {
        const answer = isError(err, BlobNotFoundError)
          ? status(FetchResponse.Status.NOT_FOUND, 'not stored here')
          : status(FetchResponse.Status.INTERNAL_ERROR, 'read failed')
        await send(stream, answer, undefined, this.stallTimeoutMs)
        return
      }
      // the header goes out with the first bytes in one send
      let first: Uint8ArrayList | undefined = header()
      try {
        for await (const chunk of source) {
          const bytes = chunk as Uint8Array
          if (first !== undefined) first.append(bytes)
          await send(stream, first ?? bytes, undefined, this.stallTimeoutMs)
          first = undefined
          this.bytesServed += bytes.byteLength
        }
        if (first !== undefined) await send(stream, first, undefined, this.stallTimeoutMs)
      } finally {
        source.destroy()
      }
    }
  }

  /** Opens a session on which requests run one after another (or pipelined with `many`). */
  async open (peer: PeerId, options: { signal?: AbortSignal } = {}): Promise<FetchSession> {
    // waiting for a slot is not part of the open deadline: it lasts as long as others' transfers
    const release = await this.slots.acquire(peer.toString(), options.signal)
    const signal = deadline(FETCH_OPEN_TIMEOUT_MS, options.signal)
    try {
      const stream = await this.components.libp2p.dialProtocol(peer, FETCH_PROTOCOL, { signal })
      stream.inactivityTimeout = this.stallTimeoutMs
      stream.addEventListener('close', release, { once: true })
      return new FetchSession(stream, peer, release, this.stallTimeoutMs)
    } catch (err) {
      release()
      throw timeoutError(err, `opening a fetch stream to ${peer.toString()}`, signal)
    }
  }
}

export interface AnswerInfo {
  /** Total size of the blob. */
  size: number
  /** Bytes delivered. */
  length: number
}

/** One fetch stream to one peer. Not safe for concurrent use: one request (or batch) at a time. */
export class FetchSession {
  private readonly reader: StreamReader
  private closed = false

  /** `release` frees this session's slot among those open to the peer (see FETCH_SESSIONS_PER_PEER). */
  constructor (readonly stream: Stream, readonly peer: PeerId, private readonly release: () => void = () => {}, stallTimeoutMs?: number) {
    this.reader = new StreamReader(stream, undefined, stallTimeoutMs)
  }

  /**
   * Requests a blob or range and yields its bytes as they arrive; the consumer's pace is the
   * stream's pace (the reader pauses the peer while we are behind).
   */
  async * get (req: RangeRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    try {
      await send(this.stream, frame(encodeRequest(req)), options.signal)
      const length = await this.readHeader(req, options.signal)
      yield * this.reader.readBytes(length, options.signal)
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  /**
   * Sends a request without waiting for its answer: a chunked download keeps the next chunk's
   * request queued at the responder, so its bytes follow the previous chunk's with no round trip
   * between them. Read the answers with `answer`, in the order the requests were sent.
   */
  async ask (req: RangeRequest, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await send(this.stream, frame(encodeRequest(req)), options.signal)
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  /** Yields the bytes of the answer to the oldest request sent with `ask` and not yet answered. */
  async * answer (req: RangeRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    try {
      const length = await this.readHeader(req, options.signal)
      yield * this.reader.readBytes(length, options.signal)
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  /** Requests a blob or range and hands its bytes to `sink` as they arrive. */
  async request (req: RangeRequest, sink: BytesSink, options: { signal?: AbortSignal } = {}): Promise<AnswerInfo> {
    try {
      await send(this.stream, frame(encodeRequest(req)), options.signal)
      return await this.readAnswer(req, sink, options.signal)
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  /**
   * Pipelines many requests: up to `inFlight` are sent ahead so thousands of small blobs cost no
   * round trip each. `onAnswer` gets each blob's bytes in order; a NOT_FOUND answer is passed as
   * an error to `onMissing` and the batch goes on.
   */
  async many (reqs: RangeRequest[], inFlight: number, handlers: {
    sinkFor: (req: RangeRequest, size: number) => Promise<BytesSink> | BytesSink
    done: (req: RangeRequest, info: AnswerInfo) => Promise<void> | void
    onMissing: (req: RangeRequest, err: Error) => void
  }, options: { signal?: AbortSignal } = {}): Promise<void> {
    let sent = 0
    // requests go out in batches, refilled once half of those in flight are answered, each batch
    // in one send: one muxer frame and one socket write per batch instead of one per answer
    const sendMore = async (answered: number): Promise<void> => {
      const outstanding = sent - answered
      if (sent >= reqs.length || outstanding > inFlight / 2) return
      const batch = new Uint8ArrayList()
      while (sent < reqs.length && sent - answered < inFlight) batch.append(frame(encodeRequest(reqs[sent++])))
      // one buffer: each piece of a list would be encrypted and written on its own
      await send(this.stream, batch.subarray(), options.signal)
    }
    try {
      await sendMore(0)
      for (let i = 0; i < reqs.length; i++) {
        let sink: BytesSink | undefined
        let info: AnswerInfo
        try {
          info = await this.readAnswer(reqs[i], async (chunk) => {
            await (sink ?? (() => {}))(chunk)
          }, options.signal, async (size) => { sink = await handlers.sinkFor(reqs[i], size) })
        } catch (err) {
          if (isError(err, BlobNotFoundError)) {
            handlers.onMissing(reqs[i], err)
            await sendMore(i + 1)
            continue
          }
          throw err
        }
        await handlers.done(reqs[i], info)
        await sendMore(i + 1)
      }
    } catch (err) {
      this.abort(err)
      throw err
    }
  }

  private async readAnswer (req: RangeRequest, sink: BytesSink, signal?: AbortSignal, onHeader?: (size: number) => Promise<void>): Promise<AnswerInfo> {
    const { size, length } = await this.readHeaderInfo(req, signal)
    await onHeader?.(size)
    for await (const piece of this.reader.readBytes(length, signal)) await sink(piece)
    return { size, length }
  }

  private async readHeader (req: RangeRequest, signal?: AbortSignal): Promise<number> {
    return (await this.readHeaderInfo(req, signal)).length
  }

  private async readHeaderInfo (req: RangeRequest, signal?: AbortSignal): Promise<AnswerInfo> {
    const msg = await this.reader.readMessage(MAX_FETCH_RESPONSE_HEADER_BYTES, signal)
    if (msg === undefined) throw new ProtocolError('peer closed the fetch stream without answering')
    const res = FetchResponse.decode(msg)
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
