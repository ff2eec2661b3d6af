import { parseArgs } from 'node:util'
import { parseSize } from '../../src/units.js'

export interface BenchArgs {
  size?: number
  runs?: number
  dir?: string
  keys?: number
  seconds?: number
  concurrency?: number
  /** bench/ingest: `trove add` through a running node (`trove start` on the data directory) rather than embedded. */
  throughNode?: boolean
}

/** The flags every bench understands; each bench reads the ones it uses. */
export function benchArgs (argv = process.argv.slice(2)): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      dir: { type: 'string' },
      keys: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      'through-node': { type: 'boolean' }
    },
    strict: true
  })
  const out: BenchArgs = {}
  if (values.size !== undefined) out.size = parseSize(values.size)
  if (values.runs !== undefined) out.runs = positiveInt('runs', values.runs)
  if (values.dir !== undefined) out.dir = values.dir
  if (values.keys !== undefined) out.keys = positiveInt('keys', values.keys)
  if (values.seconds !== undefined) out.seconds = positiveNumber('seconds', values.seconds)
  if (values.concurrency !== undefined) out.concurrency = positiveInt('concurrency', values.concurrency)
  if (values['through-node'] === true) out.throughNode = true
  return out
}

function positiveInt (name: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`)
  return n
}

function positiveNumber (name: string, value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${value}`)
  return n
}
