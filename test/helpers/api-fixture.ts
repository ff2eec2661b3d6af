import http from 'node:http'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { ensureApiToken } from '../../src/api/token.js'
import { createTrove, type Trove } from '../../src/node.js'
import { tempDir } from './tmp.js'

export interface ApiFixture {
  dir: string
  trove: Trove
  server: ApiServer
  url: string
  token: string
  auth: Record<string, string>
  cleanup: () => Promise<void>
}

/** A real Trove in a temp dir with its API on 127.0.0.1, a free port. */
export async function startApiFixture (): Promise<ApiFixture> {
  const { dir, cleanup: rmDir } = await tempDir('trove-api-')
  const trove = await createTrove({ dataDir: dir, create: true, durable: false })
  const token = await ensureApiToken(dir)
  const server = await startApiServer({ ops: trove, node: trove }, { port: 0, token })
  return {
    dir,
    trove,
    server,
    url: server.url,
    token,
    auth: { authorization: `Bearer ${token}` },
    cleanup: async () => {
      await server.close()
      await trove.close()
      await rmDir()
    }
  }
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  json: () => any // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * One request with node:http, which (unlike fetch) lets a test set any Host header and stream a
 * body from any iterable.
 */
export async function rawRequest (url: string, options: {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: Uint8Array | string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  setHost?: boolean
}): Promise<RawResponse> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers,
      setHost: options.setHost ?? true
    }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const body = Buffer.concat(parts)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) })
      })
    })
    req.on('error', reject)
    const body = options.body
    if (body === undefined) {
      req.end()
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      req.end(body)
    } else {
      void (async () => {
        try {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve))
          }
          req.end()
        } catch (err) {
          req.destroy(err as Error)
        }
      })()
    }
  })
}
