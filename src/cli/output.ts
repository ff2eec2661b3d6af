import { isTroveError } from '../errors.js'

export interface GlobalOptions {
  json?: boolean
  data?: string
}

/** Writes a result: JSON for scripts (`--json`), the human form otherwise. */
export function emit (opts: GlobalOptions, value: unknown, human: () => string | string[]): void {
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n')
    return
  }
  const text = human()
  const lines = Array.isArray(text) ? text : [text]
  if (lines.length > 0 && !(lines.length === 1 && lines[0] === '')) process.stdout.write(lines.join('\n') + '\n')
}

/** Lines for a person beside the result (on stderr, so stdout stays the result); none with --json, whose result carries them. */
export function notice (opts: GlobalOptions, lines: string[]): void {
  if (opts.json === true || lines.length === 0) return
  process.stderr.write(lines.join('\n') + '\n')
}

export interface ErrorShape {
  name: string
  code: string
  message: string
  /** NO_PROVIDERS: the peer ids that were asked. */
  peers?: string[]
}

export function errorShape (err: unknown): ErrorShape {
  if (isTroveError(err)) {
    const shape: ErrorShape = { name: err.name, code: err.code, message: err.message }
    const peers = (err as { peers?: unknown }).peers
    if (Array.isArray(peers)) shape.peers = peers.map(String)
    return shape
  }
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EPIPE') return { name: 'BrokenPipe', code: 'EPIPE', message: 'output closed early' }
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return { name: 'PermissionError', code: e.code, message: e.message }
  return { name: e?.name ?? 'Error', code: 'INTERNAL', message: e?.message ?? String(err) }
}

/** One line on stderr (or a JSON object on stdout with --json) and the exit code. */
export function reportError (err: unknown, json: boolean): number {
  const shape = errorShape(err)
  if (json) {
    process.stdout.write(JSON.stringify({ error: shape }, null, 2) + '\n')
  } else {
    process.stderr.write(`trove: ${shape.message}\n`)
    if (shape.code === 'INTERNAL' && process.env.TROVE_DEBUG !== undefined) process.stderr.write(String((err as Error)?.stack) + '\n')
  }
  return shape.code === 'INVALID_ARGUMENT' ? 2 : 1
}
