import { createRequire } from 'node:module'
import type { Readable } from 'node:stream'

/**
 * node:http, loaded as CommonJS: an ESM import of it builds its namespace by reading every export,
 * which loads undici and zlib as well (node 24; 25 ms of CPU for a command that sends two GETs).
 */
export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http')

/** What ApiClient reads of an answer: the parts of a fetch Response it used, on node:http. */
export interface HttpAnswer {
  status: number
  ok: boolean
  headers: { get: (name: string) => string | null }
  /** The body as it arrives: a node stream, read once. */
  body: Readable
  json: () => Promise<unknown>
  /** Stops reading the body (the connection is closed). */
  cancel: () => void
}

export interface HttpRequestInit {
  method: string
  headers: Record<string, string>
  body?: string
  signal?: AbortSignal
}

/**
 * One request over node:http. The global fetch costs a command 40-75 ms before its first request
 * (undici is loaded and set up on first use; measured with `new Response()` alone on the bench
 * machine), a third of the 200 ms a `trove cat` through a running node has for its first byte.
 * Connection failures reject with node's error (its `code`: ECONNREFUSED...).
 */
export async function httpRequest (url: URL, init: HttpRequestInit): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { ...init.headers }
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body))
    const req = http.request(url, { method: init.method, headers, signal: init.signal })
    req.once('error', reject)
    req.once('response', (res) => {
      const status = res.statusCode ?? 0
      resolve({
        status,
        ok: status >= 200 && status < 300,
        headers: { get: (name) => headerValue(res.headers[name.toLowerCase()]) },
        body: res,
        json: async () => {
          const parts: Buffer[] = []
          for await (const chunk of res) parts.push(chunk as Buffer)
          return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown
        },
        cancel: () => { res.destroy() }
      })
    })
    req.end(init.body)
  })
}

/** What a blob's answer that broke off means: the node's fetch of it failed after `bytes` were sent. */
export function brokenOffMessage (sha1: string, bytes: number): string {
  return `the node stopped sending sha1://${sha1} after ${bytes} bytes: its fetch failed (the node's log says why)`
}

function headerValue (value: string | string[] | undefined): string | null {
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}
