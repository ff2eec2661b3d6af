import { TroveError } from '../errors.js'

/** A peer broke a protocol's rules (bad framing, oversized or undecodable message). */
export class ProtocolError extends TroveError {
  static override name = 'ProtocolError'
  static readonly code = 'PROTOCOL_ERROR'
}

/** A peer did not answer within the deadline. */
export class PeerTimeoutError extends TroveError {
  static override name = 'PeerTimeoutError'
  static readonly code = 'PEER_TIMEOUT'
}
