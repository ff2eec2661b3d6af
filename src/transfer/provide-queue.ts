import type { TroveLibp2p } from '../net/libp2p.js'
import { dhtKey } from '../net/dht-key.js'
import { DHT_PROVIDE_ATTEMPTS, DHT_PROVIDE_CONCURRENCY, DHT_PROVIDE_RETRY_MS, DHT_PROVIDE_TIMEOUT_MS, MAX_PROVIDE_QUEUE } from './constants.js'

export interface ProvideQueueComponents {
  libp2p: Pick<TroveLibp2p, 'contentRouting'>
}

/**
 * Publishes DHT provider records for stored blobs in the background: a few walks at once, each
 * with a deadline, and a failed one retried with back-off (see protocols/README.md, DHT).
 */
export class ProvideQueue {
  private readonly queue: Array<{ sha1: string, attempt: number }> = []
  private providing = 0
  private stopped = false

  constructor (private readonly components: ProvideQueueComponents) {}

  /** Queues a blob to provide; with MAX_PROVIDE_QUEUE waiting it is skipped (the next start queues every blob again). */
  add (sha1: string): void {
    this.enqueue(sha1, 0)
  }

  /** Starts no further walk and schedules no retry. */
  stop (): void {
    this.stopped = true
  }

  private enqueue (sha1: string, attempt: number): void {
    if (this.queue.length >= MAX_PROVIDE_QUEUE) return
    this.queue.push({ sha1, attempt })
    this.pump()
  }

  private pump (): void {
    while (!this.stopped && this.providing < DHT_PROVIDE_CONCURRENCY && this.queue.length > 0) {
      const { sha1, attempt } = this.queue.shift() as { sha1: string, attempt: number }
      this.providing++
      void this.components.libp2p.contentRouting.provide(dhtKey(sha1), { signal: AbortSignal.timeout(DHT_PROVIDE_TIMEOUT_MS) })
        .catch(() => {
          // typically no DHT peers yet (a node that added before it joined): try again later,
          // with back-off, so content added early still becomes findable
          if (this.stopped || attempt + 1 >= DHT_PROVIDE_ATTEMPTS) return
          const retry = setTimeout(() => this.enqueue(sha1, attempt + 1), DHT_PROVIDE_RETRY_MS * 2 ** attempt)
          retry.unref()
        })
        .finally(() => {
          this.providing--
          this.pump()
        })
    }
  }
}
