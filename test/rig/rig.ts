import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { mountFor, type NodeService, type RigPlan, type RigService, type ScriptService } from './compose-map.js'
import { ScenarioError } from './errors.js'
import { LocalHosts, NetnsHosts, type HostProvider, type RigHost } from './hosts.js'
import { describeExit, LOG_TAIL_LINES, RigProcess } from './process.js'

/**
 * A node that started is given this long to print its start line (libp2p, LevelDB and the API
 * up): a second is usual, a loaded two-core CI machine starting six at once takes several.
 */
const NODE_START_TIMEOUT_MS = 60_000
/**
 * A scenario script that runs longer is stuck. Generous: a fetch waits for providers for up to the
 * node's find timeout, and a late peer's DHT has to fill first.
 */
const SCRIPT_TIMEOUT_MS = 180_000
/** One CLI command of a scenario; `get` of tens of MiB on a loaded machine stays well within. */
export const RIG_CLI_TIMEOUT_MS = 120_000
/** A node asked to stop gets this long for its clean shutdown (API, network, LevelDB) before SIGKILL. */
const STOP_GRACE_MS = 10_000

export interface RigInit {
  /** The built CLI (dist*\/src/cli/bin.js). */
  trovebin: string
  /** rig/entrypoint.mjs: what every node runs, as in the image. */
  entrypoint: string
  /** One network namespace per node (root only). */
  netns?: boolean
  /** Where the run's directory is made (default: the OS temp dir). */
  parentDir?: string
  /** Progress lines. */
  log?: (line: string) => void
}

/** What `trove --json start` prints once the node runs. */
export interface StartLine {
  apiUrl: string
  pid: number
  peerId: string
  multiaddrs: string[]
}

export interface RunningNode {
  service: NodeService
  host: RigHost
  dataDir: string
  proc: RigProcess
  start: StartLine
}

export interface StepResult {
  service: string
  on?: string
  ok: boolean
  ms: number
  /** Last line the step printed (what it did), or the reason it failed. */
  detail: string
  error?: ScenarioError
}

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export class Rig {
  readonly plan: RigPlan
  readonly dir: string
  readonly hosts: HostProvider
  readonly init: RigInit
  readonly nodes = new Map<string, RunningNode>()
  private readonly procs = new Set<RigProcess>()
  private readonly log: (line: string) => void

  private constructor (plan: RigPlan, dir: string, hosts: HostProvider, init: RigInit) {
    this.plan = plan
    this.dir = dir
    this.hosts = hosts
    this.init = init
    this.log = init.log ?? (() => {})
  }

  static async create (plan: RigPlan, init: RigInit): Promise<Rig> {
    if (init.netns === true) await NetnsHosts.check()
    const dir = await fs.mkdtemp(path.join(init.parentDir ?? os.tmpdir(), 'trove-rig-'))
    for (const sub of ['logs', 'bin', 'tmp', 'files']) await fs.mkdir(path.join(dir, sub))
    for (const v of plan.volumes) await fs.mkdir(path.join(dir, 'volumes', v), { recursive: true })
    // scenario scripts call `trove` as in the image, where it is on PATH
    await fs.writeFile(path.join(dir, 'bin', 'trove'), `#!/bin/sh\nexec ${shq(process.execPath)} ${shq(init.trovebin)} "$@"\n`, { mode: 0o755 })
    const hosts = init.netns === true ? new NetnsHosts() : new LocalHosts()
    return new Rig(plan, dir, hosts, init)
  }

  volumeDir (volume: string): string {
    return path.join(this.dir, 'volumes', volume)
  }

  /** The local path of a path inside a service's container. */
  localPath (service: RigService, containerPath: string): string {
    const mount = mountFor(service.volumes, containerPath)
    if (mount === undefined) throw new Error(`${containerPath} is not in a volume of ${service.name}`)
    return path.join(this.volumeDir(mount.volume), containerPath.slice(mount.target.length))
  }

  /** A scratch file path inside the run's directory (removed with it). */
  file (name: string): string {
    return path.join(this.dir, 'files', name)
  }

  logFile (service: string): string {
    return path.join(this.dir, 'logs', `${service}.log`)
  }

  /** The environment of a service's process: the container's, with its paths mapped here. */
  private envFor (service: RigService): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TROVE_')) env[k] = v
    for (const [k, v] of Object.entries(service.env)) env[k] = v.startsWith('/') ? this.localPath(service, v) : v
    env.TROVE_BIN = this.init.trovebin
    env.PATH = `${path.join(this.dir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`
    env.TMPDIR = path.join(this.dir, 'tmp')
    return env
  }

  private node (name: string): NodeService {
    const s = this.plan.services.get(name)
    if (s?.kind !== 'node') throw new Error(`${name} is not a node service`)
    return s
  }

  /**
   * Starts every service as `docker compose up` would: each once its dependencies are started,
   * healthy or completed. Nodes that fail to start and scenarios that fail are reported, not
   * thrown, so the summary shows all of them.
   */
  async up (): Promise<{ nodes: StepResult[], scripts: StepResult[] }> {
    const ready = new Map<string, Promise<void>>()
    const results = { nodes: [] as StepResult[], scripts: [] as StepResult[] }
    const launch = (name: string): Promise<void> => {
      const existing = ready.get(name)
      if (existing !== undefined) return existing
      const service = this.plan.services.get(name) as RigService
      const p = (async () => {
        for (const dep of service.dependsOn) {
          try {
            await launch(dep.service)
          } catch {
            const error = this.failure(service.kind === 'script' ? service.name : 'up', service.kind === 'script' ? service.on : name, `depends_on ${dep.service}`, `"${dep.service}" did not become ${dep.condition.replace('service_', '')}`)
            ;(service.kind === 'node' ? results.nodes : results.scripts).push({ service: name, ok: false, ms: 0, detail: error.message, error })
            throw error
          }
        }
        if (service.kind === 'node') {
          const t0 = Date.now()
          try {
            const node = await this.startNode(name)
            results.nodes.push({ service: name, ok: true, ms: Date.now() - t0, detail: `${node.host.address} ${node.start.peerId}` })
          } catch (err) {
            const error = err instanceof ScenarioError ? err : this.failure('up', name, 'start', String(err))
            results.nodes.push({ service: name, ok: false, ms: Date.now() - t0, detail: error.message, error })
            throw error
          }
        } else {
          const res = await this.runScript(name)
          results.scripts.push(res)
          if (!res.ok) throw res.error as Error
        }
      })()
      p.catch(() => {}) // reported through results; dependents see the rejection
      ready.set(name, p)
      return p
    }
    await Promise.allSettled(this.plan.order.map(launch))
    return results
  }

  /** Starts a node service and waits until it is healthy (its API answers `trove status`). */
  async startNode (name: string): Promise<RunningNode> {
    const service = this.node(name)
    const host = await this.hosts.host(name)
    const dataDir = this.localPath(service, service.env.TROVE_DATA)
    const args: string[] = ['start']
    let api: string | undefined
    for (const f of service.flags) {
      if (f.flag === '--json') continue // the entrypoint adds it
      if (f.flag === '--api') {
        api = f.values[0]
        continue
      }
      if (f.flag === '--listen') args.push(f.flag, ...f.values.map((v) => this.hosts.listen(v)))
      else if (f.flag === '--swarm-key') args.push(f.flag, this.localPath(service, f.values[0]))
      else args.push(f.flag, ...f.values)
    }
    args.push('--api', this.hosts.api(api))
    this.log(`starting ${name} on ${host.address}`)
    const proc = this.spawn(name, host.wrap([process.execPath, this.init.entrypoint, ...args]), this.envFor(service), true)
    let start: StartLine
    try {
      start = JSON.parse(await proc.firstLine(NODE_START_TIMEOUT_MS)) as StartLine
      if (typeof start.peerId !== 'string' || !Number.isSafeInteger(start.pid)) throw new Error('start line without peerId/pid')
    } catch (err) {
      await this.stopProc(proc)
      throw this.failure('up', name, 'start', (err as Error).message, proc)
    }
    const node: RunningNode = { service, host, dataDir, proc, start }
    this.nodes.set(name, node)
    // the image's HEALTHCHECK, run the same way
    const health = await this.cli(name, ['--json', 'status'])
    let mode: unknown
    try {
      mode = (JSON.parse(health.stdout) as { mode?: unknown }).mode
    } catch {}
    if (health.code !== 0 || mode !== 'node') {
      throw this.failure('up', name, 'health check (trove status)', `exit ${String(health.code)}, mode ${String(mode)}: ${health.stderr.trim()}`)
    }
    this.log(`${name} healthy: ${start.peerId} ${start.multiaddrs.join(' ')}`)
    return node
  }

  /** Runs a scenario service's script on the host of the node it names, to completion. */
  async runScript (name: string): Promise<StepResult> {
    const service = this.plan.services.get(name) as ScriptService
    const host = await this.hosts.host(service.on)
    const t0 = Date.now()
    this.log(`running ${name} on ${service.on}`)
    const proc = this.spawn(name, host.wrap(['sh', '-c', service.script]), this.envFor(service), true)
    const timer = setTimeout(() => { proc.killGroup('SIGKILL') }, SCRIPT_TIMEOUT_MS)
    const exit = await proc.exited.finally(() => { clearTimeout(timer) })
    this.procs.delete(proc)
    const ms = Date.now() - t0
    const lines = proc.tail(LOG_TAIL_LINES)
    if (exit.code === 0) return { service: name, on: service.on, ok: true, ms, detail: lines.split('\n').at(-1) ?? '' }
    const node = this.nodes.get(service.on)
    const error = new ScenarioError({
      scenario: name,
      peer: service.on,
      step: `${name} script (${describeExit(exit)})`,
      reason: lines.split('\n').at(-1) ?? describeExit(exit),
      logTail: `--- ${name} output ---\n${lines}\n--- ${service.on} log ---\n${node?.proc.tail() ?? '(not running)'}`
    })
    return { service: name, on: service.on, ok: false, ms, detail: error.message, error }
  }

  /** Runs the trove CLI against a node's data directory, on that node's host. */
  async cli (name: string, args: string[], options: { timeoutMs?: number } = {}): Promise<CliRun> {
    const node = this.nodes.get(name)
    if (node === undefined) throw new Error(`${name} is not running`)
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TROVE_')) env[k] = v
    const proc = new RigProcess(`${name} cli`, node.host.wrap([process.execPath, this.init.trovebin, '--data', node.dataDir, ...args]), {
      env,
      logFile: path.join(this.dir, 'logs', `${name}.cli.log`)
    })
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, options.timeoutMs ?? RIG_CLI_TIMEOUT_MS)
    const exit = await proc.exited.finally(() => { clearTimeout(timer) })
    return { code: exit.code, stdout: proc.stdout, stderr: proc.stderr }
  }

  /**
   * Runs `trove --json ARGS` on a node and parses the answer; any failure becomes a ScenarioError
   * naming the scenario, the node and the step, with the node's log tail.
   */
  async cliJson<T = any> (scenario: string, name: string, step: string, args: string[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await this.cli(name, ['--json', ...args])
    if (res.code !== 0) throw this.failure(scenario, name, step, `trove ${args.join(' ')} failed (exit ${String(res.code)}): ${firstLine(res.stdout) ?? res.stderr.trim()}`)
    try {
      return JSON.parse(res.stdout) as T
    } catch {
      throw this.failure(scenario, name, step, `trove ${args.join(' ')} printed no JSON: ${res.stdout.slice(0, 200)}`)
    }
  }

  /** A ScenarioError for this node and step, carrying the end of the node's log. */
  failure (scenario: string, name: string, step: string, reason: string, proc?: RigProcess): ScenarioError {
    const p = proc ?? this.nodes.get(name)?.proc
    return new ScenarioError({ scenario, peer: name, step, reason, logTail: p?.tail() ?? '(no log)' })
  }

  /** Kills a node's whole process group at once (entrypoint and trove), as `docker kill` would. */
  async kill (name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.nodes.get(name)
    if (node === undefined) return
    node.proc.killGroup(signal)
    await node.proc.exited
    this.procs.delete(node.proc)
  }

  /** Starts a node again on the same data directory (same identity, same content). */
  async restart (name: string): Promise<RunningNode> {
    const node = this.nodes.get(name)
    if (node !== undefined) await this.stopProc(node.proc, node.start.pid)
    this.nodes.delete(name)
    return this.startNode(name)
  }

  /** Stops everything this rig started, removes its namespaces, and its directory unless `keep`. */
  async down (options: { keep?: boolean } = {}): Promise<void> {
    const nodes = [...this.nodes.values()]
    const others = [...this.procs].filter((p) => !nodes.some((n) => n.proc === p))
    await Promise.allSettled([
      ...nodes.map(async (n) => this.stopProc(n.proc, n.start.pid)),
      ...others.map(async (p) => this.stopProc(p))
    ])
    this.nodes.clear()
    await this.hosts.close()
    if (options.keep !== true) await fs.rm(this.dir, { recursive: true, force: true })
  }

  private spawn (name: string, argv: string[], env: NodeJS.ProcessEnv, group: boolean): RigProcess {
    const proc = new RigProcess(name, argv, { env, logFile: this.logFile(name), detached: group })
    this.procs.add(proc)
    void proc.exited.then(() => { this.procs.delete(proc) })
    return proc
  }

  /**
   * SIGTERM (the entrypoint passes it on to trove), SIGKILL to the group after the grace time.
   * `trovePid`: the node's own process, killed if it outlived its entrypoint.
   */
  private async stopProc (proc: RigProcess, trovePid?: number): Promise<void> {
    if (proc.running) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => { proc.killGroup('SIGKILL') }, STOP_GRACE_MS)
      await proc.exited.finally(() => { clearTimeout(timer) })
    }
    if (trovePid !== undefined && isAlive(trovePid)) {
      try {
        process.kill(trovePid, 'SIGKILL')
      } catch {}
    }
    this.procs.delete(proc)
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function firstLine (text: string): string | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '')
  return line?.trim()
}

/** Single-quotes a string for sh. */
function shq (s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`
}
