import { HashMismatchError, InvalidArgumentError, isError } from '../errors.js'
import { ProtocolError } from '../protocols/errors.js'
import { BAN_DURATION_MS, BAN_THRESHOLD, FAULT_BAD_DATA, FAULT_DECAY_MS, FAULT_PROTOCOL, FAULT_STALL } from './constants.js'

/**
 * Failures that prove a peer's data false: bytes that do not hash to what was asked, or a manifest
 * that is invalid (parseManifest and the manifest size check answer InvalidArgumentError).
 */
export function isBadData (err: unknown): boolean {
  return isError(err, HashMismatchError) || isError(err, InvalidArgumentError)
}

/**
 * How much a failed exchange counts against the peer it was with: false data most, a broken
 * protocol rule next, anything else (a stall, a reset stream) `otherwise`. Where a failure of
 * another kind cannot be the peer's doing, the caller passes 0 and nothing is recorded.
 */
export function faultWeight (err: unknown, otherwise = FAULT_STALL): number {
  if (isBadData(err)) return FAULT_BAD_DATA
  if (isError(err, ProtocolError)) return FAULT_PROTOCOL
  return otherwise
}

/** A fault recorded against a peer; `banned` when this fault started a ban. */
export interface FaultEvent {
  peerId: string
  weight: number
  reason: string
  banned: boolean
}

interface Score {
  faults: number
  lastFault: number
  bannedUntil: number
  reasons: string[]
}

/**
 * Fault counts of peers in transfers. A peer that sends bytes that do not verify, stalls or
 * breaks the protocol is dropped for that transfer and penalised; repeated faults ban it for a
 * while. Faults decay so a peer that had a bad moment is not punished forever.
 */
export class PeerScores {
  private readonly scores = new Map<string, Score>()
  private readonly listeners = new Set<(event: FaultEvent) => void>()

  /** Told of each fault recorded, and whether it banned the peer (metrics count these). */
  onFault (listener: (event: FaultEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  fault (peerId: string, weight: number, reason: string, now = Date.now()): void {
    if (weight <= 0) return
    const s = this.current(peerId, now)
    s.faults += weight
    s.lastFault = now
    s.reasons = [...s.reasons.slice(-4), reason]
    const wasBanned = s.bannedUntil > now
    if (s.faults >= BAN_THRESHOLD) s.bannedUntil = now + BAN_DURATION_MS
    this.scores.set(peerId, s)
    const event: FaultEvent = { peerId, weight, reason, banned: !wasBanned && s.bannedUntil > now }
    for (const listener of this.listeners) listener(event)
  }

  isBanned (peerId: string, now = Date.now()): boolean {
    return (this.scores.get(peerId)?.bannedUntil ?? 0) > now
  }

  faults (peerId: string, now = Date.now()): number {
    return this.current(peerId, now).faults
  }

  reasons (peerId: string): string[] {
    return this.scores.get(peerId)?.reasons ?? []
  }

  private current (peerId: string, now: number): Score {
    const s = this.scores.get(peerId) ?? { faults: 0, lastFault: now, bannedUntil: 0, reasons: [] }
    const decay = Math.floor((now - s.lastFault) / FAULT_DECAY_MS)
    if (decay > 0 && s.faults > 0) {
      s.faults = Math.max(0, s.faults - decay)
      s.lastFault = now
    }
    return s
  }
}
