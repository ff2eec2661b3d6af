import { secondsSince } from './timing.js'

export interface LoadResult {
  ops: number
  seconds: number
  perSec: number
}

export interface LoadOptions {
  /** Operations kept in flight at once. */
  concurrency: number
  /** Stop issuing new operations after this long. */
  durationMs?: number
  /** Stop after this many operations (whichever limit comes first). */
  count?: number
}

/**
 * Runs `op(i)` with a bounded number in flight until the time or count limit, and reports the
 * completed rate. Bounded, because an unbounded burst measures queueing in memory, not the store.
 */
export async function runLoad (op: (i: number) => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs = Infinity, count = Infinity } = options
  if (durationMs === Infinity && count === Infinity) throw new Error('runLoad needs a duration or a count')
  const start = process.hrtime.bigint()
  const deadline = Date.now() + durationMs
  let issued = 0
  const worker = async (): Promise<void> => {
    while (issued < count && Date.now() < deadline) {
      await op(issued++)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = secondsSince(start)
  return { ops: issued, seconds, perSec: issued / seconds }
}
