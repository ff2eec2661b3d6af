/** Seconds since `start` (a `process.hrtime.bigint()` value). */
export function secondsSince (start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

export function median (values: number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export const MIB = 1024 * 1024

export function mibPerSec (bytes: number, seconds: number): number {
  return bytes / MIB / seconds
}

/**
 * Runs a baseline and a contestant once each, alternating which goes first by run number `i`, so
 * drift in the machine's load (and the cost of freeing the previous run's files) hits both alike.
 * Answers [baseline seconds, contestant seconds].
 */
export async function alternate (i: number, baseline: () => Promise<number>, contestant: () => Promise<number>): Promise<[number, number]> {
  if (i % 2 === 0) {
    const b = await baseline()
    return [b, await contestant()]
  }
  const t = await contestant()
  return [await baseline(), t]
}
