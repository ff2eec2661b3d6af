import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'

/**
 * Child processes of the network benches, driven over Node's IPC channel: the parent sends
 * `{ id, cmd, args }`, the child answers `{ id, ok, result }` or `{ id, ok: false, error }`.
 * Separate processes, because two libp2p nodes in one process share one event loop and one core,
 * which is not how two machines behave.
 */
export interface IpcRequest { id: number, cmd: string, args?: unknown }
export interface IpcReply { id: number, ok: boolean, result?: unknown, error?: string }

/** How long a child may take to answer one command before the bench gives up on it. */
const COMMAND_TIMEOUT_MS = 30 * 60 * 1000

export class BenchChild {
  private next = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>()
  private exited = false

  constructor (readonly name: string, readonly child: ChildProcess) {
    child.on('message', (msg: IpcReply) => {
      const w = this.waiting.get(msg.id)
      if (w === undefined) return
      this.waiting.delete(msg.id)
      clearTimeout(w.timer)
      if (msg.ok) w.resolve(msg.result)
      else w.reject(new Error(`${name}: ${msg.error ?? 'failed'}`))
    })
    child.once('exit', (code, signal) => {
      this.exited = true
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer)
        w.reject(new Error(`${name} exited (${code ?? signal}) before answering`))
      }
      this.waiting.clear()
    })
  }

  get pid (): number {
    return this.child.pid as number
  }

  async call<T = unknown> (cmd: string, args?: unknown): Promise<T> {
    if (this.exited) throw new Error(`${this.name} has exited`)
    const id = this.next++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`${this.name}: ${cmd} timed out`))
      }, COMMAND_TIMEOUT_MS)
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.child.send({ id, cmd, args } satisfies IpcRequest)
    })
  }

  /** Asks the child to shut down cleanly, then kills it if it does not. */
  async stop (): Promise<void> {
    if (this.exited) return
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    await this.call('exit').catch(() => {})
    const timer = setTimeout(() => { if (!this.exited) this.child.kill('SIGKILL') }, 10_000)
    await gone
    clearTimeout(timer)
  }
}

/** Starts a child running `script` (a built .js file) with IPC. */
export function spawnChild (name: string, script: string, execArgv: string[] = []): BenchChild {
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  return new BenchChild(name, child)
}

/** Child side: answers the parent's commands with `handlers`; `exit` runs `onExit` and ends the process. */
export function serveIpc (handlers: Record<string, (args: any) => Promise<unknown> | unknown>, onExit: () => Promise<void>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (process.send === undefined) throw new Error('this script is a bench child: run it through the bench')
  const reply = (msg: IpcReply): void => { process.send?.(msg) }
  process.on('message', (msg: IpcRequest) => {
    void (async () => {
      if (msg.cmd === 'exit') {
        await onExit().catch(() => {})
        reply({ id: msg.id, ok: true })
        process.disconnect()
        setImmediate(() => process.exit(0))
        return
      }
      // CPU seconds used so far by the whole process (all threads): a cost that, unlike wall
      // time, other load on the machine barely changes
      const h = msg.cmd === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 } : handlers[msg.cmd]
      if (h === undefined) {
        reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` })
        return
      }
      try {
        reply({ id: msg.id, ok: true, result: await h(msg.args) })
      } catch (err) {
        reply({ id: msg.id, ok: false, error: (err as Error).stack ?? String(err) })
      }
    })()
  })
  // the parent going away (Ctrl-C, crash) must not leave a child holding ports and temp dirs
  process.on('disconnect', () => { void onExit().finally(() => process.exit(0)) })
}

/** This process's peak resident set in MiB since start or the last `resetPeakRss`. */
export function peakRssMB (pid: number | 'self' = 'self'): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** Resets VmHWM to the current RSS (Linux `clear_refs` 5) so a peak covers one measured phase only. */
export function resetPeakRss (): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}
