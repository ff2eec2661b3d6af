import { errorKind } from '../errors.js'

/** A peer broke a protocol's rules (bad framing, oversized or undecodable message). */
export const ProtocolError = errorKind('ProtocolError', 'PROTOCOL_ERROR', 502)

/** A peer did not answer within the deadline. */
export const PeerTimeoutError = errorKind('PeerTimeoutError', 'PEER_TIMEOUT', 504)
