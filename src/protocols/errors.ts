import { errorKind } from '../errors.js'
// every protocol module imports this file, so the encoder fix applies before any message is sent
import './uint64-fix.js'

/** A peer broke a protocol's rules (bad framing, oversized or undecodable message). */
export const ProtocolError = errorKind('ProtocolError', 'PROTOCOL_ERROR', 502)

/** A peer did not answer within the deadline. */
export const PeerTimeoutError = errorKind('PeerTimeoutError', 'PEER_TIMEOUT', 504)
