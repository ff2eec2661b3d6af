import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { secondsSince } from './timing.js'

/** GNU time reports the child's peak RSS from the kernel's rusage: exact, not sampled. */
const GNU_TIME = '/usr/bin/time'
/** Sampling period of the /proc fallback; VmHWM is a high-water mark, so sampling late loses nothing but the last moments. */
const PROC_POLL_MS = 10

export interface ChildRun {
  code: number
  seconds: number
  stdout: string
  stderr: string
  /** Peak resident set of the command in MiB, when it could be measured. */
  peakRssMB?: number
  /** How the peak was measured. */
  rssSource?: 'gnu-time' | 'proc-vmhwm'
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  /** Measure the command's peak RSS. */
  measureRss?: boolean
}

let gnuTimeWorks: boolean | undefined

async function canUseGnuTime (): Promise<boolean> {
  if (gnuTimeWorks !== undefined) return gnuTimeWorks
  gnuTimeWorks = false
  if (existsSync(GNU_TIME)) {
    const probe = await spawnCollect(GNU_TIME, ['-f', '%M', 'true'], {})
    gnuTimeWorks = probe.code === 0 && /^\d+\s*$/m.test(probe.stderr)
  }
  return gnuTimeWorks
}

/** Runs a command to completion, timing it (wall clock) and optionally measuring its peak RSS. */
export async function runMeasured (cmd: string, args: string[], options: RunOptions = {}): Promise<ChildRun> {
  if (options.measureRss === true && await canUseGnuTime()) {
    const out = path.join(os.tmpdir(), `trove-bench-time-${process.pid}-${Date.now()}`)
    try {
      const run = await spawnCollect(GNU_TIME, ['-f', '%M', '-o', out, cmd, ...args], options)
      const kb = Number((await fs.readFile(out, 'utf8')).trim().split('\n').pop())
      return { ...run, peakRssMB: kb / 1024, rssSource: 'gnu-time' }
    } finally {
      await fs.rm(out, { force: true })
    }
  }
  return spawnCollect(cmd, args, options)
}

async function spawnCollect (cmd: string, args: string[], options: RunOptions): Promise<ChildRun> {
  const start = process.hrtime.bigint()
  const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => stdout.push(b))
  child.stderr.on('data', (b: Buffer) => stderr.push(b))
  let peakKb = 0
  let timer: NodeJS.Timeout | undefined
  if (options.measureRss === true && child.pid !== undefined) {
    const statusFile = `/proc/${child.pid}/status`
    timer = setInterval(() => {
      fs.readFile(statusFile, 'utf8').then((text) => {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(text)
        if (m !== null) peakKb = Math.max(peakKb, Number(m[1]))
      }, () => {})
    }, PROC_POLL_MS)
  }
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c, signal) => resolve(c ?? (signal !== null ? 128 : 1)))
  })
  const seconds = secondsSince(start)
  if (timer !== undefined) clearInterval(timer)
  const run: ChildRun = { code, seconds, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }
  if (options.measureRss === true && peakKb > 0) {
    run.peakRssMB = peakKb / 1024
    run.rssSource = 'proc-vmhwm'
  }
  return run
}

/** Runs a command and throws with its stderr when it fails. */
export async function runChecked (cmd: string, args: string[], options: RunOptions = {}): Promise<ChildRun> {
  const run = await runMeasured(cmd, args, options)
  if (run.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${run.code}: ${run.stderr.trim()}`)
  return run
}
