import { pipeline } from 'node:stream/promises'
import type { IncomingMessage } from 'node:http'
import { API_PREFIX, EVICTIONS_HEADER } from '../api/constants.js'
import { isPidAlive, readDiscovery } from '../api/discovery.js'
import { brokenOffMessage, http } from '../api/http-request.js'
import { resolveDataDir } from '../datadir.js'
import { parseDuration } from '../units.js'
import { toSha1 } from '../uri.js'

/**
 * `trove cat URI` and `trove get URI` to a pipe, through a running node, without loading the
 * command line parser or the commands: the fast path of `bin.ts`, for the commands whose time to
 * first byte scripts wait on (`trove cat URI | tool`). It takes only the plain forms: `[--data
 * DIR] cat|get URI [--offset N] [--length M] [--timeout D]`, stderr not a terminal (a person gets
 * the spinner of the full command). Anything else, or anything unexpected before the first byte
 * (no node, a stale discovery file, an answer it does not expect), resolves undefined and the
 * full command runs instead, as if this had not been tried; an error the node answers is printed
 * as the full command prints it.
 */
export async function fastCat (args: string[]): Promise<number | undefined> {
  const parsed = parseArgs(args)
  if (parsed === undefined || process.stderr.isTTY === true) return undefined
  let sha1: string
  try {
    sha1 = toSha1(parsed.uri)
  } catch {
    return undefined
  }
  const info = await readDiscovery(resolveDataDir(parsed.data))
  if (info === undefined || !isPidAlive(info.pid)) return undefined
  const url = new URL(`${info.url}${API_PREFIX}/blobs/${sha1}`)
  if (parsed.timeoutMs !== undefined) url.searchParams.set('timeoutMs', String(parsed.timeoutMs))
  const headers: Record<string, string> = {}
  if (parsed.offset !== undefined || parsed.length !== undefined) {
    const offset = parsed.offset ?? 0
    headers.range = `bytes=${offset}-${parsed.length !== undefined ? String(offset + parsed.length - 1) : ''}`
  }
  const res = await new Promise<IncomingMessage | undefined>((resolve) => {
    http.get(url, { headers }, resolve).once('error', () => { resolve(undefined) })
  })
  if (res === undefined) return undefined
  const status = res.statusCode ?? 0
  // the node's own answer for this blob, whole or exactly the range asked for
  const ours = res.headers.etag === `"${sha1}"`
  const whole = status === 200 && parsed.offset === undefined && parsed.length === undefined
  const ranged = status === 206 && (parsed.length === undefined || res.headers['content-length'] === String(parsed.length))
  if (!ours || !(whole || ranged)) return await refused(res)
  let bytes = 0
  res.on('data', (chunk: Buffer) => { bytes += chunk.length })
  try {
    await pipeline(res, process.stdout)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // a reader that closed the pipe early chose to (`| head`)
    if (code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') return 0
    process.stderr.write(`trove: ${brokenOffMessage(sha1, bytes)}\n`)
    return 1
  }
  const evictions = res.headers[EVICTIONS_HEADER]
  if (typeof evictions === 'string') {
    const [{ decodeEvictions }, { evictionLines }] = await Promise.all([import('../api/evictions.js'), import('./commands/space.js')])
    const lines = evictionLines(decodeEvictions(evictions))
    if (lines.length > 0) process.stderr.write(lines.join('\n') + '\n')
  }
  return 0
}

/**
 * An answer the fast path does not stream: an error the node describes is printed as the full
 * command prints it (a second try would only wait for the same providers again); anything else
 * (a range the store words otherwise, a stranger on the port) goes to the full command.
 */
async function refused (res: IncomingMessage): Promise<number | undefined> {
  const status = res.statusCode ?? 0
  if (status < 400 || res.headers['content-type']?.includes('application/json') !== true) {
    res.destroy()
    return undefined
  }
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  let error: { code?: unknown, message?: unknown } | undefined
  try {
    error = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { error?: { code?: unknown, message?: unknown } }).error
  } catch {
    return undefined
  }
  if (typeof error?.code !== 'string' || typeof error.message !== 'string' || error.code === 'RANGE_NOT_SATISFIABLE') return undefined
  process.stderr.write(`trove: ${error.message}\n`)
  return error.code === 'INVALID_ARGUMENT' ? 2 : 1
}

interface FastArgs {
  uri: string
  data?: string
  offset?: number
  length?: number
  timeoutMs?: number
}

/** The plain forms only; undefined for anything else (the full parser words its errors). */
function parseArgs (args: string[]): FastArgs | undefined {
  const rest = [...args]
  let data: string | undefined
  if (rest[0] === '--data' && rest.length > 1) {
    data = rest[1]
    rest.splice(0, 2)
  }
  const command = rest.shift()
  const uri = rest.shift()
  if ((command !== 'cat' && command !== 'get') || uri === undefined || uri.startsWith('-')) return undefined
  const out: FastArgs = { uri, data }
  while (rest.length > 0) {
    const flag = rest.shift() as string
    const value = rest.shift()
    if (value === undefined) return undefined
    if (flag === '--timeout') {
      try {
        out.timeoutMs = parseDuration(value)
      } catch {
        return undefined
      }
      if (out.timeoutMs <= 0) return undefined
    } else if (command === 'cat' && (flag === '--offset' || flag === '--length')) {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) return undefined
      out[flag === '--offset' ? 'offset' : 'length'] = Number(value)
    } else {
      return undefined
    }
  }
  // an empty range is the store's to word (HTTP cannot ask for zero bytes)
  if (out.length === 0) return undefined
  return out
}
