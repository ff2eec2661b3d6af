import { secondsSince } from './timing.js'

export interface LoadResult {
  ops: number
  seconds: number
  perSec: number
  /**
   * CPU time of the whole process (every thread, LevelDB's included) per operation. Unlike the
   * rate it hardly moves when other work competes for the machine, so it is the figure to
   * compare between runs on a busy machine.
   */
  cpuMicrosPerOp: number
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
  const cpuStart = process.cpuUsage()
  const deadline = Date.now() + durationMs
  let issued = 0
  const worker = async (): Promise<void> => {
    while (issued < count && Date.now() < deadline) {
      await op(issued++)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = secondsSince(start)
  const cpu = process.cpuUsage(cpuStart)
  return { ops: issued, seconds, perSec: issued / seconds, cpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(issued, 1) }
}
