/**
 * One logger, injected into every component as `components.logger` (the shape of libp2p's
 * `ComponentLogger`: a factory of per-component loggers). Background work (access flushes,
 * announces, DHT provides, space runs, pack compaction) reports its failures here instead of
 * swallowing them: a failure nobody awaits is logged at `warn`, never lost.
 *
 * The level comes from `TROVE_LOG` (debug, info, warn, error, silent) unless the caller sets one;
 * the default is `warn`, so a library user sees background failures on stderr without asking and
 * nothing else.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Logger {
  debug: (message: string, ...details: unknown[]) => void
  info: (message: string, ...details: unknown[]) => void
  warn: (message: string, ...details: unknown[]) => void
  error: (message: string, ...details: unknown[]) => void
}

export interface ComponentLogger {
  forComponent: (name: string) => Logger
}

export interface LogRecord {
  level: Exclude<LogLevel, 'silent'>
  component: string
  message: string
  details: unknown[]
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }
const LEVELS = Object.keys(RANK) as LogLevel[]
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn'

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && (LEVELS as string[]).includes(value)
}

/** The level named by `TROVE_LOG`, or the default when it is unset or not a level. */
export function levelFromEnv (env: NodeJS.ProcessEnv = process.env): LogLevel {
  const value = env.TROVE_LOG?.trim().toLowerCase()
  return isLogLevel(value) ? value : DEFAULT_LOG_LEVEL
}

/** Formats one record as one line: errors by their name, code and message (no stack unless debug). */
export function formatRecord (record: LogRecord, withStacks = false): string {
  const parts = [record.level, `trove:${record.component}`, record.message]
  for (const d of record.details) parts.push(formatDetail(d, withStacks))
  return parts.join(' ')
}

function formatDetail (detail: unknown, withStacks: boolean): string {
  if (detail instanceof Error) {
    const code = (detail as { code?: unknown }).code
    const head = `${detail.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${detail.message}`
    return withStacks && detail.stack !== undefined ? `${head}\n${detail.stack}` : head
  }
  if (typeof detail === 'string') return detail
  try {
    return JSON.stringify(detail)
  } catch {
    return String(detail)
  }
}

/** A logger that hands each record at or above `level` to `sink`. */
export function sinkLogger (sink: (record: LogRecord) => void, level: LogLevel = DEFAULT_LOG_LEVEL): ComponentLogger {
  const min = RANK[level]
  const at = (lvl: Exclude<LogLevel, 'silent'>, component: string) => (message: string, ...details: unknown[]): void => {
    if (RANK[lvl] < min) return
    sink({ level: lvl, component, message, details })
  }
  return {
    forComponent: (component) => ({
      debug: at('debug', component),
      info: at('info', component),
      warn: at('warn', component),
      error: at('error', component)
    })
  }
}

/** Lines on stderr: what `trove start` and library users get by default. */
export function stderrLogger (level: LogLevel = levelFromEnv()): ComponentLogger {
  return sinkLogger((record) => { process.stderr.write(formatRecord(record, level === 'debug') + '\n') }, level)
}

/** The default for components constructed without a logger. */
export function defaultLogger (): ComponentLogger {
  return stderrLogger()
}

export function silentLogger (): ComponentLogger {
  return sinkLogger(() => {}, 'silent')
}

/** Keeps every record in memory: for tests that check a background failure was reported. */
export function memoryLogger (level: LogLevel = 'debug'): ComponentLogger & { records: LogRecord[] } {
  const records: LogRecord[] = []
  return Object.assign(sinkLogger((r) => { records.push(r) }, level), { records })
}
