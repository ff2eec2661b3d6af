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
