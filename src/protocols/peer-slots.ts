/**
 * Counts what is open to each peer and makes callers beyond a limit wait their turn, so a burst
 * of local requests queues here instead of overrunning the remote's stream limit (which answers
 * with a reset the caller cannot tell from a broken peer).
 */
export class PeerSlots {
  private readonly open = new Map<string, number>()
  private readonly waiting = new Map<string, Array<() => void>>()

  constructor (private readonly perPeer: number) {}

  /** Resolves with a release function once a slot for `peer` is free. */
  async acquire (peer: string, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    while ((this.open.get(peer) ?? 0) >= this.perPeer) {
      await new Promise<void>((resolve, reject) => {
        const queue = this.waiting.get(peer) ?? []
        const wake = (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
        const onAbort = (): void => {
          const i = queue.indexOf(wake)
          if (i >= 0) queue.splice(i, 1)
          reject(signal?.reason)
        }
        queue.push(wake)
        this.waiting.set(peer, queue)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
    this.open.set(peer, (this.open.get(peer) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.open.get(peer) ?? 1) - 1
      if (n === 0) this.open.delete(peer)
      else this.open.set(peer, n)
      const queue = this.waiting.get(peer)
      const next = queue?.shift()
      if (queue !== undefined && queue.length === 0) this.waiting.delete(peer)
      next?.()
    }
  }
}
