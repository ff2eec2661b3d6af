import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './tmp.js'

/** The built CLI, found next to the compiled test so each build folder tests its own binary. */
export const CLI_BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url))
/** The built library entry, for tests that need a second process holding a data directory. */
export const LIB_ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url))

/** A CLI run that takes longer than this is hung; kill it so the suite fails instead of stalling. */
export const CLI_TIMEOUT_MS = 30_000

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** stdout exactly as written, for byte-exact checks of `cat`. */
  stdoutBytes: Buffer
  stderr: string
}

export interface RunOptions {
  /** Value of TROVE_DATA; `null` leaves it unset (then --data or HOME decide). */
  data?: string | null
  /** HOME of the child, so a default `~/.trove` never touches the real one. */
  home?: string
  stdin?: string | Buffer
  env?: Record<string, string | undefined>
  cwd?: string
}

/** Runs the built `trove` binary with this Node, a given TROVE_DATA and optional stdin. */
export async function runCli (args: string[], options: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env }
  delete env.TROVE_DEBUG
  if (options.data === null) delete env.TROVE_DATA
  else if (options.data !== undefined) env.TROVE_DATA = options.data
  if (options.home !== undefined) env.HOME = options.home
  const child = spawn(process.execPath, [CLI_BIN, ...args], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  child.stdin.on('error', () => {}) // the CLI may exit without reading its stdin
  child.stdin.end(options.stdin)
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS)
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, s) => resolve([c, s]))
    })
    const stdoutBytes = Buffer.concat(out)
    return { code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8') }
  } finally {
    clearTimeout(timer)
  }
}

export interface JsonResult<T> extends CliResult {
  json: T
}

/** Runs with `--json` and parses stdout; a non-JSON stdout fails with what was printed. */
export async function runJson<T = any> (args: string[], options: RunOptions = {}): Promise<JsonResult<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await runCli(['--json', ...args], options)
  let json: T
  try {
    json = JSON.parse(res.stdout) as T
  } catch {
    throw new Error(`trove --json ${args.join(' ')} printed non-JSON (exit ${String(res.code)}): ${JSON.stringify(res.stdout.slice(0, 500))} stderr: ${JSON.stringify(res.stderr.slice(0, 500))}`)
  }
  return { ...res, json }
}

/** The shape of every `--json` error. */
export interface JsonError {
  error: { name: string, code: string, message: string }
}

/**
 * A temp directory with a data directory path inside it (not initialized) and its own HOME;
 * `run`/`runJson` use them. `cleanup` removes everything.
 */
export interface CliSandbox {
  dir: string
  data: string
  home: string
  run: (args: string[], options?: RunOptions) => Promise<CliResult>
  runJson: <T = any>(args: string[], options?: RunOptions) => Promise<JsonResult<T>> // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Writes a file in the sandbox and returns its path. */
  file: (name: string, content: string | Uint8Array) => Promise<string>
  /** `status` and `ref ls` as JSON: what bad input must leave unchanged. */
  snapshot: () => Promise<unknown>
  cleanup: () => Promise<void>
}

export async function cliSandbox (options: { init?: boolean } = {}): Promise<CliSandbox> {
  const { dir, cleanup } = await tempDir('trove-e2e-')
  const data = path.join(dir, 'data')
  const home = path.join(dir, 'home')
  await fs.mkdir(home)
  const defaults = (o: RunOptions = {}): RunOptions => ({ data, home, ...o })
  const sandbox: CliSandbox = {
    dir,
    data,
    home,
    run: async (args, o) => runCli(args, defaults(o)),
    runJson: async (args, o) => runJson(args, defaults(o)),
    file: async (name, content) => {
      const p = path.join(dir, name)
      await fs.mkdir(path.dirname(p), { recursive: true })
      await fs.writeFile(p, content)
      return p
    },
    snapshot: async () => {
      const status = await runJson(['status'], defaults())
      const refs = await runJson(['ref', 'ls'], defaults())
      const tmp = await fs.readdir(path.join(data, 'tmp')).catch(() => [])
      // what the user stored; not gauges that move on their own (free disk, database file sizes)
      const { usage, refs: refCount, pins } = status.json as { usage: unknown, refs: number, pins: number }
      return { status: { usage, refs: refCount, pins }, refs: refs.json, tmp }
    },
    cleanup
  }
  if (options.init !== false) {
    const res = await sandbox.run(['init'])
    if (res.code !== 0) throw new Error(`trove init failed: ${res.stderr}`)
  }
  return sandbox
}

/** Sets fields of a sandbox's config.json (space limits, grace period), keeping the others. */
export async function setConfig (t: CliSandbox, fields: Record<string, unknown>): Promise<void> {
  const file = path.join(t.data, 'config.json')
  const config = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>
  await fs.writeFile(file, JSON.stringify({ ...config, ...fields }, null, 2))
}

/**
 * What must be the same whichever way a command ran (embedded, or through a running node), with
 * relative ages ("last used 2s ago") made equal: two data directories store their blobs a moment
 * apart, so an age may round to the next second in one.
 */
export function outcome (r: CliResult): { code: number | null, stdout: string, stderr: string } {
  const ages = (text: string): string => text.replace(/\b\d+s ago\b/g, 'Ns ago')
  return { code: r.code, stdout: ages(r.stdout), stderr: ages(r.stderr) }
}
