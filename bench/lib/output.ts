import os from 'node:os'

/** Bench results go to stdout as one JSON document, so scripts and CI can read them. */
export function printResult (result: object): void {
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
}

/** Progress notes go to stderr so stdout stays pure JSON. */
export function note (message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

export function round (value: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/**
 * What the numbers were measured on. The load average is there because a busy machine (other
 * builds, tests) moves every figure; compare runs only when it was low in both.
 */
export function machineInfo (): { cpus: number, model: string, loadavg: number[], node: string } {
  const cpus = os.cpus()
  return { cpus: cpus.length, model: cpus[0]?.model ?? 'unknown', loadavg: os.loadavg().map((l) => round(l, 2)), node: process.version }
}
