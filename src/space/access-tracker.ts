import { ACCESS_FLUSH_MAX_PENDING } from './constants.js'

/**
 * Last use of blobs, in memory. A read costs a Map.set, never a write and never a change to the
 * blob file; the space index takes the entries in batches (`take`) and moves the blobs in the
 * eviction order. Planning consults `get` too, so a blob read a second ago is not evicted as
 * "least recently used" just because its flush is still pending.
 */
export class AccessTracker {
  private pending = new Map<string, number>()
  /** Entries taken by a flush that has not committed yet: still the truth until it does. */
  private flushing: Map<string, number> | undefined
  /** Blobs written (or written again) recently: grace applies from the latest write, not the first. */
  private readonly writes = new Map<string, number>()
  onFull: () => void = () => {}

  touch (sha1: string, at = Date.now()): void {
    if ((this.pending.get(sha1) ?? 0) >= at) return
    this.pending.set(sha1, at)
    if (this.pending.size >= ACCESS_FLUSH_MAX_PENDING) this.onFull()
  }

  /** A write of content that may already be stored: restarts its grace period. */
  wrote (sha1: string, at = Date.now()): void {
    this.writes.set(sha1, at)
    this.touch(sha1, at)
  }

  lastWrite (sha1: string): number | undefined {
    return this.writes.get(sha1)
  }

  /** Forgets writes older than the grace period (they no longer matter). */
  expireWrites (before: number): void {
    for (const [k, t] of this.writes) if (t < before) this.writes.delete(k)
  }

  get (sha1: string): number | undefined {
    return this.pending.get(sha1) ?? this.flushing?.get(sha1)
  }

  get size (): number {
    return this.pending.size
  }

  /** Hands over everything pending; what is touched from now on starts a new batch. */
  take (): Map<string, number> {
    const out = this.pending
    this.pending = new Map()
    this.flushing = out
    return out
  }

  /** Gives entries back for the next flush (blobs not classified yet), unless touched again since. */
  giveBack (entries: Map<string, number>): void {
    for (const [k, t] of entries) if ((this.pending.get(k) ?? 0) < t) this.pending.set(k, t)
  }

  /** The taken entries are in the index now (ok) or must be retried (failed). */
  settle (ok: boolean): void {
    const entries = this.flushing
    this.flushing = undefined
    if (ok || entries === undefined) return
    for (const [k, t] of entries) if (!this.pending.has(k)) this.pending.set(k, t)
  }
}
