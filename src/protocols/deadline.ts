import type { Stream } from '@libp2p/interface'
import { PeerTimeoutError } from './errors.js'

/** A signal that fires at the deadline or when the caller's signal does. */
export function deadline (ms: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout
}

/** Turns an abort from our own deadline into a PeerTimeoutError naming what timed out. */
export function timeoutError (err: unknown, what: string, signal: AbortSignal): unknown {
  if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') {
    return new PeerTimeoutError(`${what} timed out`, { cause: err })
  }
  return err
}

/** Aborts a stream on error so the peer sees a reset, never a half-finished exchange. */
export function abortStream (stream: Stream | undefined, err: unknown): void {
  try {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
  } catch {
    // a stream that already closed or failed may throw on abort; it is over either way
  }
}
