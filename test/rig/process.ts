import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'

/** Output kept in memory per process for the log tail of a failure report; the full log is on disk. */
const TAIL_BYTES = 64 * 1024
/** Lines of a log shown when a scenario fails: enough for a stack trace, short enough to read. */
export const LOG_TAIL_LINES = 25

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * A child process of the rig: its output goes to a log file and a bounded in-memory tail, its
 * first stdout line can be awaited (a node's `--json` start line), and it can be stopped or killed.
 */
export class RigProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  private tailText = ''
  private stdoutText = ''
  private stderrText = ''
  private readonly log: WriteStream
  private exit: Exit | undefined

  /** `detached`: the process leads a new process group, so its children can be signalled with it. */
  constructor (name: string, argv: string[], options: { env: NodeJS.ProcessEnv, logFile: string, cwd?: string, detached?: boolean }) {
    this.name = name
    this.log = createWriteStream(options.logFile, { flags: 'a' })
    this.child = spawn(argv[0], argv.slice(1), { env: options.env, cwd: options.cwd, detached: options.detached === true, stdio: ['ignore', 'pipe', 'pipe'] })
    const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void => {
      const text = chunk.toString('utf8')
      this.log.write(chunk)
      this.tailText = (this.tailText + text).slice(-TAIL_BYTES)
      if (stream === 'stdout' && this.stdoutText.length < TAIL_BYTES) this.stdoutText += text
      if (stream === 'stderr') this.stderrText = (this.stderrText + text).slice(-TAIL_BYTES)
    }
    this.child.stdout?.on('data', take('stdout'))
    this.child.stderr?.on('data', take('stderr'))
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        this.tailText += `\n[rig] cannot start ${argv[0]}: ${err.message}\n`
        this.exit = { code: null, signal: null }
        resolve(this.exit)
      })
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal }
        this.log.end()
        resolve(this.exit)
      })
    })
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  get running (): boolean {
    return this.exit === undefined
  }

  /** Everything printed on stdout so far (bounded). */
  get stdout (): string {
    return this.stdoutText
  }

  /**
   * The first complete stdout line, or an error when the process exits (or the deadline passes)
   * before printing one.
   */
  async firstLine (timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const nl = this.stdoutText.indexOf('\n')
      if (nl >= 0) return this.stdoutText.slice(0, nl)
      if (!this.running) throw new Error(`exited (${describeExit(this.exit as Exit)}) before its start line`)
      if (Date.now() > deadline) throw new Error(`printed no start line within ${timeoutMs / 1000} s`)
      await Promise.race([this.exited, sleep(50)])
    }
  }

  /** The end of what was printed on stderr. */
  get stderr (): string {
    return this.stderrText
  }

  /** The last lines of output (stdout and stderr interleaved as they came). */
  tail (lines = LOG_TAIL_LINES): string {
    return this.tailText.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1).slice(-lines).join('\n')
  }

  kill (signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }

  /**
   * Signals the process group this process leads (spawned `detached`), so its children go with
   * it. Only while it runs: a group id is never reused while its leader lives.
   */
  killGroup (signal: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, signal)
    } catch {}
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop (graceMs: number): Promise<Exit> {
    if (!this.running) return this.exit as Exit
    this.kill('SIGTERM')
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

export function describeExit (exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit ${String(exit.code)}`
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
