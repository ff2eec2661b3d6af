import fs from 'node:fs/promises'
import { InvalidArgumentError, InvalidJsonError } from '../errors.js'
import type { RefMeta } from '../refs/meta.js'
import { parseDuration, parseExpires } from '../units.js'

/** Parses a JSON argument; `-` reads standard input, `@FILE` reads a file. */
export async function readJsonArg (text: string, what: string): Promise<unknown> {
  let source = text
  if (text === '-') source = await readStdin()
  else if (text.startsWith('@')) {
    try {
      source = await fs.readFile(text.slice(1), 'utf8')
    } catch (err) {
      throw new InvalidArgumentError(`cannot read ${what} from ${text.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  }
  try {
    return JSON.parse(source)
  } catch (err) {
    throw new InvalidJsonError(`${what} is not valid JSON: ${(err as Error).message}`)
  }
}

async function readStdin (): Promise<string> {
  const parts: Buffer[] = []
  for await (const chunk of process.stdin) parts.push(chunk as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

export function parseIntArg (value: string, what: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${what} must be an integer, got "${value}"`)
  return Number(value)
}

export interface RefMetaFlags {
  priority?: string
  pin?: boolean
  expires?: string
  ttl?: string
  meta?: string
}

/** Builds ref meta from `--meta JSON` plus the dedicated flags, which win. */
export async function metaFromFlags (flags: RefMetaFlags): Promise<RefMeta> {
  let meta: RefMeta = {}
  if (flags.meta !== undefined) {
    const parsed = await readJsonArg(flags.meta, '--meta')
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('--meta must be a JSON object')
    meta = parsed as RefMeta
  }
  if (flags.priority !== undefined) meta.priority = parseIntArg(flags.priority, '--priority')
  if (flags.pin === true) meta.pin = true
  if (flags.expires !== undefined) meta.expires = parseExpires(flags.expires)
  if (flags.ttl !== undefined) {
    parseDuration(flags.ttl)
    meta.ttl = flags.ttl
  }
  return meta
}

/** `--timeout 30s`: how long a fetching command lets the node look for peers that hold the content. */
export function parseTimeoutArg (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = parseDuration(value)
  if (ms <= 0) throw new InvalidArgumentError(`--timeout must be longer than 0, got "${value}"`)
  return ms
}

/** The option every fetching command takes (get, cat): see parseTimeoutArg. */
export const TIMEOUT_OPTION = ['--timeout <duration>', 'how long the node looks for peers that hold what it must fetch, like 30s or 2m (default: the node\'s --find-timeout, 15s)'] as const
