import { parseArgs } from 'node:util'
import { parseSize } from '../../src/units.js'
import type { Encryption } from '../../src/net/constants.js'

export interface NetBenchArgs {
  size?: number
  runs?: number
  dir?: string
  /** Also run the 4 GiB peak-RSS fetch. */
  big: boolean
  bigSize?: number
  /** Stream windows to compare, in bytes. */
  windows?: number[]
  /** Connection encryption of every process in the run (`noise`, `tls`); Trove's default when absent. */
  encryption?: Encryption[]
  providers?: number
  count?: number
  blobSize?: number
  concurrency?: number[]
  /** bench/small: which fetch methods to measure (fetchMany, ensureLocal); all when absent. */
  methods?: string[]
  /** Write V8 CPU profiles of the Trove processes into this folder. */
  profile?: string
  /** fsync fetched blobs (the node's default); off by default here so the disk does not dominate. */
  durable: boolean
  /** Skip the raw TCP and plain-stream ceilings (when only tuning Trove). */
  noCeilings: boolean
}

/** Flags of bench/fetch.ts and bench/small.ts (their own set: bench/lib/args.ts is strict and shared). */
export function netBenchArgs (argv = process.argv.slice(2)): NetBenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      dir: { type: 'string' },
      big: { type: 'boolean', default: false },
      'big-size': { type: 'string' },
      windows: { type: 'string' },
      encryption: { type: 'string' },
      providers: { type: 'string' },
      count: { type: 'string' },
      'blob-size': { type: 'string' },
      concurrency: { type: 'string' },
      methods: { type: 'string' },
      profile: { type: 'string' },
      durable: { type: 'boolean', default: false },
      'no-ceilings': { type: 'boolean', default: false }
    },
    strict: true
  })
  const out: NetBenchArgs = { big: values.big === true, durable: values.durable === true, noCeilings: values['no-ceilings'] === true }
  if (values.size !== undefined) out.size = parseSize(values.size)
  if (values['big-size'] !== undefined) out.bigSize = parseSize(values['big-size'])
  if (values['blob-size'] !== undefined) out.blobSize = parseSize(values['blob-size'])
  if (values.runs !== undefined) out.runs = positiveInt('runs', values.runs)
  if (values.providers !== undefined) out.providers = positiveInt('providers', values.providers)
  if (values.count !== undefined) out.count = positiveInt('count', values.count)
  if (values.windows !== undefined) out.windows = values.windows.split(',').map((w) => parseSize(w.trim()))
  if (values.encryption !== undefined) {
    const names = values.encryption.split(',').map((e) => e.trim())
    if (names.some((e) => e !== 'noise' && e !== 'tls')) throw new Error(`--encryption takes noise, tls or both, got ${values.encryption}`)
    out.encryption = names as Encryption[]
  }
  if (values.concurrency !== undefined) out.concurrency = values.concurrency.split(',').map((c) => positiveInt('concurrency', c.trim()))
  if (values.methods !== undefined) out.methods = values.methods.split(',').map((m) => m.trim())
  if (values.dir !== undefined) out.dir = values.dir
  if (values.profile !== undefined) out.profile = values.profile
  return out
}

function positiveInt (name: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`)
  return n
}
