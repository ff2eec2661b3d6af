import { createRequire } from 'node:module'
import type CliProgress from 'cli-progress'
import { formatSize } from '../units.js'

const require = createRequire(import.meta.url)
let loaded: typeof CliProgress | undefined
/**
 * cli-progress is loaded when the first bar is drawn: `trove start` (a long-running process that
 * imports every command) and scripts (`--json`, no terminal) never draw one and need not hold it.
 */
export const cliProgress = (): typeof CliProgress => (loaded ??= require('cli-progress') as typeof CliProgress)

/** Files at least this large get a progress bar; smaller ones finish before a bar would help. */
export const PROGRESS_MIN_BYTES = 16 * 1024 * 1024

export interface ByteProgress {
  update: (bytes: number) => void
  stop: () => void
}

const NOOP: ByteProgress = { update: () => {}, stop: () => {} }

/** A byte progress bar on stderr when it is a terminal and output is for a person; otherwise nothing. */
export function byteProgress (label: string, total: number | undefined, options: { json?: boolean, minBytes?: number } = {}): ByteProgress {
  if (options.json === true || process.stderr.isTTY !== true) return NOOP
  if (total !== undefined && total < (options.minBytes ?? PROGRESS_MIN_BYTES)) return NOOP
  let base: { bytes: number, at: number } | undefined
  const bar = new (cliProgress().SingleBar)({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% {done}/{size} {rate}`,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30
  }, cliProgress().Presets.shades_classic)
  const size = total ?? 0
  bar.start(size, 0, { done: formatSize(0), size: total !== undefined ? formatSize(size) : '?', rate: '' })
  return {
    update (bytes: number) {
      // the rate counts from the first update: a bar shown for a transfer already under way
      // (a polled network fetch) must not credit bytes moved before it existed to its first instant
      base ??= { bytes, at: Date.now() }
      const secs = (Date.now() - base.at) / 1000
      const rate = secs > 0.05 ? `${formatSize((bytes - base.bytes) / secs)}/s` : ''
      bar.update(bytes, { done: formatSize(bytes), rate })
    },
    stop () {
      bar.stop()
    }
  }
}

export interface TreeProgress {
  update: (files: number, bytes: number) => void
  stop: () => void
}

/** Redraws of a count line are at most this often. */
const COUNT_REDRAW_MS = 100

/**
 * One line on stderr counting files and bytes (a directory being added: its total is not known
 * ahead), when stderr is a terminal and output is for a person; otherwise nothing.
 */
export function treeProgress (label: string, options: { json?: boolean } = {}): TreeProgress {
  if (options.json === true || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  let last = 0
  let drawn = false
  return {
    update (files: number, bytes: number) {
      const now = Date.now()
      if (now - last < COUNT_REDRAW_MS) return
      last = now
      drawn = true
      process.stderr.write(`\r\x1b[K${label}: ${files} files, ${formatSize(bytes)}`)
    },
    stop () {
      if (drawn) process.stderr.write('\r\x1b[K')
    }
  }
}

/** Frames of the spinner shown while providers are searched, and how fast it turns. */
const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const SPINNER_MS = 80

export interface Spinner {
  stop: () => void
}

/** A spinner with a label on stderr when it is a terminal and output is for a person; otherwise nothing. */
export function spinner (label: string, options: { json?: boolean } = {}): Spinner {
  if (options.json === true || process.stderr.isTTY !== true) return { stop: () => {} }
  let frame = 0
  const draw = (): void => { process.stderr.write(`\r${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${label}\x1b[K`) }
  draw()
  const timer = setInterval(draw, SPINNER_MS)
  let stopped = false
  return {
    stop () {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      process.stderr.write('\r\x1b[K')
    }
  }
}

/**
 * What a terminal shows while one blob is fetched: a spinner until the first progress (providers
 * are being searched), then a byte bar. `update` takes the fetch's progress.
 */
export function fetchProgress (sha1: string, options: { json?: boolean } = {}): { update: (p: { bytes: number, total?: number, peers?: number }) => void, stop: () => void } {
  const name = `sha1://${sha1.slice(0, 8)}…`
  const spin = spinner(`looking for peers that hold ${name}`, options)
  let bar: ByteProgress | undefined
  return {
    update (p) {
      spin.stop()
      bar ??= byteProgress(`${name} from ${p.peers ?? 1} peer(s)`, p.total, { json: options.json, minBytes: 0 })
      bar.update(p.bytes)
    },
    stop () {
      spin.stop()
      bar?.stop()
    }
  }
}

/** A bar of items done (blobs of `get --ref`), on a terminal only. */
export function countProgress (label: string, total: number, options: { json?: boolean } = {}): { update: (done: number) => void, stop: () => void } {
  if (options.json === true || process.stderr.isTTY !== true || total === 0) return { update: () => {}, stop: () => {} }
  const bar = new (cliProgress().SingleBar)({
    stream: process.stderr,
    format: `${label} [{bar}] {value}/{total} blobs`,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30
  }, cliProgress().Presets.shades_classic)
  bar.start(total, 0)
  return { update: (done) => { bar.update(done) }, stop: () => { bar.stop() } }
}
