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
