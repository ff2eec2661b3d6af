import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import * as varint from 'uint8-varint'
import { PeerTimeoutError, ProtocolError } from './errors.js'

/** Pause the remote once this much is buffered unread; resume below half of it. */
export const READ_HIGH_WATER = 8 * 1024 * 1024

/**
 * Reads length-prefixed control messages and raw bulk bytes from one libp2p message stream.
 * libp2p 3 streams emit data as events with no back-pressure of their own, so this reader keeps
 * its own buffer and pauses the stream (yamux stops granting window) while the consumer, usually
 * the disk, is behind: memory stays bounded whatever the transfer size.
 */
export class StreamReader {
  private readonly buf = new Uint8ArrayList()
  private ended = false
  private error: Error | undefined
  private wake: (() => void) | undefined
  private paused = false

  /**
   * `stallTimeoutMs`: a wait for bytes that sees none arrive for this long aborts the stream with
   * PeerTimeoutError. libp2p 3 streams keep an `inactivityTimeout` field but never enforce it, so
   * without this a peer that goes quiet with the stream open would hold its reader for ever.
   */
  constructor (private readonly stream: Stream, private readonly highWater = READ_HIGH_WATER, private readonly stallTimeoutMs?: number) {
    stream.addEventListener('message', (evt) => {
      this.buf.append(evt.data)
      if (!this.paused && this.buf.byteLength > this.highWater && stream.readStatus === 'readable') {
        this.paused = true
        stream.pause()
      }
      this.notify()
    })
    stream.addEventListener('end', () => { this.ended = true; this.notify() })
    stream.addEventListener('close', (evt) => {
      this.ended = true
      if (evt.error !== undefined) this.error = evt.error
      this.notify()
    })
    // anything already buffered before we listened is dispatched once a listener exists
  }

  get buffered (): number {
    return this.buf.byteLength
  }

  /** Whether a whole length-prefixed message is already buffered (so reading it will not wait). */
  hasMessage (): boolean {
    if (this.buf.byteLength === 0) return false
    try {
      const length = varint.decode(this.buf.subarray(0, Math.min(this.buf.byteLength, 10)))
      return this.buf.byteLength >= varint.encodingLength(length) + length
    } catch {
      return false
    }
  }

  /** Reads one varint-length-prefixed message of at most maxLength bytes; undefined at a clean end. */
  async readMessage (maxLength: number, signal?: AbortSignal, deadlineAt?: number): Promise<Uint8ArrayList | undefined> {
    let length: number | undefined
    let prefix = 0
    for (;;) {
      // a varint is at most 10 bytes; wait until we can decode one
      if (this.buf.byteLength > 0) {
        try {
          const view = this.buf.subarray(0, Math.min(this.buf.byteLength, 10))
          length = varint.decode(view)
          prefix = varint.encodingLength(length)
          break
        } catch {
          if (this.buf.byteLength >= 10) throw new ProtocolError('invalid length prefix')
        }
      }
      if (!await this.waitFor(this.buf.byteLength + 1, signal, deadlineAt)) {
        if (this.buf.byteLength === 0) return undefined
        throw new ProtocolError('stream ended inside a length prefix')
      }
    }
    if (length > maxLength) throw new ProtocolError(`message of ${length} bytes exceeds the limit of ${maxLength}`)
    if (!await this.waitFor(prefix + length, signal, deadlineAt)) throw new ProtocolError('stream ended inside a message')
    const msg = this.buf.sublist(prefix, prefix + length)
    this.consume(prefix + length)
    return msg
  }

  /**
   * Yields exactly `length` raw bytes as they arrive, one received buffer (a noise frame, at most
   * 64 KiB) at a time: handing out what arrived as it is never copies, where joining the buffered
   * pieces into one array copied every byte once more (bench/fetch: ~5% of the receiver's CPU).
   */
  async * readBytes (length: number, signal?: AbortSignal, deadlineAt?: number): AsyncGenerator<Uint8Array> {
    let remaining = length
    while (remaining > 0) {
      if (this.buf.byteLength === 0 && !await this.waitFor(1, signal, deadlineAt)) {
        throw new ProtocolError(`stream ended with ${remaining} of ${length} bytes still due`)
      }
      const first = this.buf[Symbol.iterator]().next().value as Uint8Array
      const take = Math.min(remaining, first.byteLength)
      const piece = take === first.byteLength ? first : first.subarray(0, take)
      this.consume(take)
      remaining -= take
      yield piece
    }
  }

  private consume (n: number): void {
    this.buf.consume(n)
    if (this.paused && this.buf.byteLength < this.highWater / 2) {
      this.paused = false
      if (this.stream.readStatus === 'paused') this.stream.resume()
    }
  }

  /**
   * Resolves true once `n` bytes are buffered, false if the stream ends first. `deadlineAt`
   * (epoch ms) is an absolute deadline on top of the stall timeout: a peer trickling a byte at a
   * time resets the stall timer but not this. It shortens the one timer a wait already has, so a
   * deadline costs no timer or signal of its own (the small-blob fetch loop reads one per answer).
   */
  private async waitFor (n: number, signal?: AbortSignal, deadlineAt?: number): Promise<boolean> {
    while (this.buf.byteLength < n) {
      if (this.error !== undefined) throw this.error
      if (this.ended) return false
      signal?.throwIfAborted()
      const left = deadlineAt === undefined ? undefined : deadlineAt - Date.now()
      if (left !== undefined && left <= 0) throw this.fail(new PeerTimeoutError('the peer did not finish within the deadline'))
      const waitMs = left === undefined ? this.stallTimeoutMs : Math.min(left, this.stallTimeoutMs ?? left)
      const byDeadline = left !== undefined && waitMs === left
      if (this.paused && this.stream.readStatus === 'paused') {
        // the consumer needs more than the high-water mark in one piece: let data in
        this.paused = false
        this.stream.resume()
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(stall)
          reject(signal?.reason)
        }
        const stall = waitMs === undefined
          ? undefined
          : setTimeout(() => {
            signal?.removeEventListener('abort', onAbort)
            this.wake = undefined
            reject(this.fail(new PeerTimeoutError(byDeadline
              ? 'the peer did not finish within the deadline'
              : `no data from the peer for ${String(this.stallTimeoutMs)} ms`)))
          }, waitMs)
        signal?.addEventListener('abort', onAbort, { once: true })
        this.wake = () => {
          clearTimeout(stall)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
      })
    }
    return true
  }

  /** Ends the stream with `err` (the peer sees a reset) and keeps it for every later read. */
  private fail (err: Error): Error {
    this.error = err
    try {
      this.stream.abort(err)
    } catch {
      // the stream already ended; the error is reported to the reader all the same
    }
    return err
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}

/**
 * Sends bytes, waiting for the muxer to drain when its buffer is full (back-pressure). With
 * `stallTimeoutMs`, a peer that takes nothing for that long fails the send with PeerTimeoutError.
 */
export async function send (stream: Stream, data: Uint8Array | Uint8ArrayList, signal?: AbortSignal, stallTimeoutMs?: number): Promise<void> {
  if (stream.send(data)) return
  if (stallTimeoutMs === undefined) {
    await stream.onDrain({ signal })
    return
  }
  const stall = AbortSignal.timeout(stallTimeoutMs)
  try {
    await stream.onDrain({ signal: signal !== undefined ? AbortSignal.any([signal, stall]) : stall })
  } catch (err) {
    if (stall.aborted && signal?.aborted !== true) throw new PeerTimeoutError(`the peer took no data for ${stallTimeoutMs} ms`, { cause: err })
    throw err
  }
}

/** Prefixes a control message with its varint length. */
export function frame (message: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(varint.encode(message.byteLength), message)
}

/**
 * One message sent as the encodings of its parts, concatenated: protobuf merges repeated fields
 * of concatenated messages, so a long answer is encoded slice by slice, never held whole as objects.
 */
export function frameParts (parts: Uint8Array[]): Uint8ArrayList {
  return new Uint8ArrayList(varint.encode(parts.reduce((n, p) => n + p.byteLength, 0)), ...parts)
}
