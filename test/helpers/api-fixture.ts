import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
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

/**
 * An older node on 127.0.0.1: no import routes (`NOT_FOUND`), uploads to `POST /blobs` hashed as
 * they arrive and answered as a node does. `seen` lists each request's method and path; `stored`
 * the bodies uploaded, by sha1.
 */
export async function startOldNodeStub (): Promise<{ url: string, seen: string[], stored: Map<string, Buffer>, close: () => void }> {
  const seen: string[] = []
  const stored = new Map<string, Buffer>()
  const stub = http.createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0]}`)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '', 'http://x')
      if (url.pathname === '/api/v1/blobs') {
        const body = Buffer.concat(chunks)
        const sha = createHash('sha1').update(body).digest('hex')
        stored.set(sha, body)
        const name = url.searchParams.get('name')
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ uri: `sha1://${sha}${name !== null ? `/${name}` : ''}`, sha1: sha, size: body.length, added: true, ...(name !== null ? { name } : {}) }))
      } else {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { code: 'NOT_FOUND', name: 'NotFoundError', message: 'no such endpoint' } }))
      }
    })
  })
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, seen, stored, close: () => { stub.close() } }
}
