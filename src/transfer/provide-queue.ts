import { defaultLogger, type ComponentLogger, type Logger } from '../logger.js'
import { dhtKey } from '../net/dht-key.js'
import type { TroveLibp2p } from '../net/libp2p.js'
import { DHT_PROVIDE_ATTEMPTS, DHT_PROVIDE_CONCURRENCY, DHT_PROVIDE_RETRY_MS, DHT_PROVIDE_TIMEOUT_MS, MAX_PROVIDE_QUEUE } from './constants.js'

export interface ProvideQueueComponents {
  libp2p: Pick<TroveLibp2p, 'contentRouting'>
  /** Where failed provides go (default: `defaultLogger()`). */
  logger?: ComponentLogger
}

/**
 * Publishes DHT provider records for stored blobs in the background: a few walks at once, each
 * with a deadline, and a failed one retried with back-off (see protocols/README.md, DHT).
 */
export class ProvideQueue {
  private readonly queue: Array<{ sha1: string, attempt: number }> = []
  private providing = 0
  private stopped = false
  private readonly log: Logger

  constructor (private readonly components: ProvideQueueComponents) {
    this.log = (components.logger ?? defaultLogger()).forComponent('provide')
  }

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
        .catch((err: unknown) => {
          if (this.stopped) return
          if (attempt + 1 >= DHT_PROVIDE_ATTEMPTS) {
            this.log.warn(`giving up providing sha1://${sha1} on the DHT after ${DHT_PROVIDE_ATTEMPTS} attempts (the next start tries again)`, err)
            return
          }
          // typically no DHT peers yet (a node that added before it joined): expected, so only
          // debug; try again later, with back-off, so content added early still becomes findable
          this.log.debug(`providing sha1://${sha1} on the DHT failed (attempt ${attempt + 1} of ${DHT_PROVIDE_ATTEMPTS})`, err)
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
