import { TroveError } from '../errors.js'
// every protocol module imports this file, so the encoder fix applies before any message is sent
import './uint64-fix.js'

/** A peer broke a protocol's rules (bad framing, oversized or undecodable message). */
export class ProtocolError extends TroveError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'PROTOCOL_ERROR', 502, options)
    this.name = 'ProtocolError'
  }
}

/** A peer did not answer within the deadline. */
export class PeerTimeoutError extends TroveError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'PEER_TIMEOUT', 504, options)
    this.name = 'PeerTimeoutError'
  }
}
