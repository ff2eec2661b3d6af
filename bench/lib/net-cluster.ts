import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChild, type BenchChild } from './net-ipc.js'
import type { Encryption } from '../../src/net/constants.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const TROVE_CHILD = path.join(here, 'net-trove-child.js')
export const RAW_CHILD = path.join(here, 'net-raw-child.js')
export const STREAM_CHILD = path.join(here, 'net-stream-child.js')

/** Every child a bench started, so one `stopAll` in a finally ends them whatever failed. */
export class Children {
  private readonly live = new Set<BenchChild>()
  private n = 0

  /** `troveNodeFlags`: Node flags for the Trove processes (bench/fetch passes the CLI's own). */
  constructor (private readonly profileDir?: string, private readonly troveNodeFlags: string[] = []) {}

  /**
   * `withTroveFlags`: give a ceiling's process the Trove processes' Node flags too, so a ratio can
   * be taken against the same runtime settings (bench/fetch reports both).
   */
  spawn (kind: string, script: string, options: { withTroveFlags?: boolean } = {}): BenchChild {
    const execArgv = this.profileDir !== undefined
      ? ['--cpu-prof', '--cpu-prof-dir', this.profileDir, '--cpu-prof-name', `${kind}-${++this.n}-${Date.now()}.cpuprofile`]
      : []
    if (script === TROVE_CHILD || options.withTroveFlags === true) execArgv.push(...this.troveNodeFlags)
    // extra V8/Node flags for the Trove processes when investigating (e.g. --trace-gc)
    const extra = process.env.TROVE_BENCH_NODE_FLAGS
    if (extra !== undefined && script === TROVE_CHILD) execArgv.push(...extra.split(/\s+/).filter((f) => f !== ''))
    const child = spawnChild(kind, script, execArgv)
    this.live.add(child)
    child.child.once('exit', () => this.live.delete(child))
    return child
  }

  /** A started Trove node process on loopback; returns it with its address. */
  async trove (kind: string, options: { streamWindow?: number, durable?: boolean, base?: string, encryption?: Encryption[] } = {}): Promise<{ child: BenchChild, addr: string }> {
    const child = this.spawn(kind, TROVE_CHILD)
    await child.call('init', { durable: options.durable, base: options.base })
    const { addr } = await child.call<{ addr: string }>('start', { streamWindow: options.streamWindow, encryption: options.encryption })
    return { child, addr }
  }

  async stop (child: BenchChild): Promise<void> {
    await child.stop()
    this.live.delete(child)
  }

  async stopAll (): Promise<void> {
    await Promise.allSettled([...this.live].map(async (c) => c.stop()))
    this.live.clear()
  }
}

export async function ensureBuilt (): Promise<void> {
  await fs.access(TROVE_CHILD).catch(() => { throw new Error(`bench children not built at ${TROVE_CHILD}; build first (npm run build)`) })
}
