import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { NodeInfo, TroveOps } from '../ops.js'
import { API_PREFIX, CLOSE_GRACE_MS, DEFAULT_API_HOST, MAX_JSON_BODY_BYTES, MAX_PARAM_LENGTH } from './constants.js'
import type { ApiContext } from './context.js'
import { AddressInUseError, NotFoundError, errorToBody } from './errors.js'
import { READ_METHODS, allowedHosts, checkHost, checkOrigin, checkToken } from './guards.js'
import { NodeMetrics } from '../metrics/metrics.js'
import { blobRoutes } from './routes/blobs.js'
import { dirRoutes } from './routes/dirs.js'
import { importRoutes } from './routes/import.js'
import { dirImportRoutes } from './routes/dirs-import.js'
import { metricsRoutes } from './routes/metrics.js'
import { exportRoutes } from './routes/export.js'
import { nodeRoutes } from './routes/node.js'
import { refRoutes } from './routes/refs.js'
import { uiRoutes, type UiSource } from './routes/ui.js'
import { UiSessions } from './routes/ui-session.js'
import { checkQueryEncoding } from './routes/util.js'

export interface ApiServerComponents {
  /** What the routes serve: an embedded node (`Trove`) in `trove start`. */
  ops: TroveOps
  /** The node's peer id and addresses, for `GET /status`. */
  node: NodeInfo
  /** The node's metrics (`trove start` passes them); without, `GET /metrics` has the API's own only. */
  metrics?: NodeMetrics
  /** The node the dashboard's own listings read (ref groups, a ref's blobs, peer faults). */
  ui?: UiSource
}

export interface ApiServerInit {
  /** Address to bind; default 127.0.0.1. */
  host?: string
  /** Port to bind; 0 picks a free one (the answer says which). */
  port?: number
  /** Bearer token required for every request that changes state. */
  token: string
  /** Where unexpected (500) errors are reported; the client only ever sees a generic message. */
  log?: (message: string) => void
  /** How long requests in flight may take to finish on close. */
  closeGraceMs?: number
}

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:4738 (routes are under /api/v1). */
  url: string
  port: number
  /** Every route served (method and URL pattern), e.g. to check the documentation against. */
  routes: Array<{ method: string, url: string }>
  close: () => Promise<void>
}

/** Starts the localhost HTTP API of a node. */
export async function startApiServer (components: ApiServerComponents, init: ApiServerInit): Promise<ApiServer> {
  const host = init.host ?? DEFAULT_API_HOST
  const token = init.token
  if (typeof token !== 'string' || token === '') throw new TypeError('startApiServer needs a non-empty token')
  const ctx: ApiContext = { ops: components.ops, node: components.node, url: '' }
  const routes: Array<{ method: string, url: string }> = []
  const metrics = components.metrics ?? new NodeMetrics()
  const app = buildApp(ctx, { host, token, log: init.log, routes, metrics, ui: components.ui })

  try {
    await app.listen({ host, port: init.port ?? 0 })
  } catch (err) {
    // the listen error is the one to report; closing the server that never listened is only cleanup
    await app.close().catch(() => {})
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new AddressInUseError(`cannot start the HTTP API: ${host}:${String(init.port)} is already in use (choose another with --api PORT)`, { cause: err })
    }
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : init.port ?? 0
  // bound to every address: local clients reach it (and pass the Host check) via loopback
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  ctx.url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      const timer = setTimeout(() => { app.server.closeAllConnections() }, init.closeGraceMs ?? CLOSE_GRACE_MS)
      timer.unref()
      try {
        await app.close()
      } finally {
        clearTimeout(timer)
      }
    })()
    return closing
  }
  return { url: ctx.url, port, routes, close }
}

/** The one way errors leave the server: `{error: {code, name, message}}` with the error's status. */
function sendError (reply: FastifyReply, err: unknown): void {
  const { status, body } = errorToBody(err)
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="trove"')
  // headers set for a blob answer that did not happen must not describe the error body
  reply.removeHeader('content-length')
  reply.removeHeader('content-disposition')
  void reply.code(status).type('application/json; charset=utf-8').send(body)
}

function buildApp (ctx: ApiContext, options: { host: string, token: string, log?: (message: string) => void, routes: Array<{ method: string, url: string }>, metrics: NodeMetrics, ui?: UiSource }): FastifyInstance {
  const hosts = allowedHosts(options.host)
  const sessions = new UiSessions()
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_JSON_BODY_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // HEAD of a blob is its own route: it must not open the blob file just to discard it
    exposeHeadRoutes: false,
    // keep-alive connections with nothing in flight must not hold up shutdown
    forceCloseConnections: 'idle',
    // a request without Host gets our FORBIDDEN_HOST answer rather than node's bare 400
    http: { requireHostHeader: false },
    // errors fastify detects before routing (malformed URL encoding) get our error shape too
    frameworkErrors: (err, _request, reply) => { sendError(reply, err) }
  })
  // each route group registers the body parser it needs; nothing is parsed by default
  app.removeAllContentTypeParsers()

  // before routing and before any body is read: a refused upload stores nothing
  app.addHook('onRequest', async (request) => {
    checkHost(request.headers.host, hosts)
    checkOrigin(request.headers.origin, hosts, Number(new URL(ctx.url).port))
    if (!READ_METHODS.has(request.method)) {
      // the dashboard: its session cookie and the CSRF header read with it; anyone else: the token
      if (request.headers.authorization === undefined && sessions.hasCookie(request.headers)) sessions.checkWrite(request.headers)
      else checkToken(request.headers.authorization, options.token)
    }
    checkQueryEncoding(request.url)
  })

  // by route template, not URL: one series per route, whatever keys and hashes are asked for
  app.addHook('onResponse', async (request, reply) => {
    options.metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode)
  })

  app.setErrorHandler((err, request, reply) => {
    if (errorToBody(err).body.error.code === 'INTERNAL') {
      options.log?.(`API ${request.method} ${request.url.split('?', 1)[0]}: ${String((err as Error)?.stack ?? err)}`)
    }
    sendError(reply, err)
  })

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, new NotFoundError(`no such endpoint: ${request.method} ${request.url.split('?', 1)[0].slice(0, 200)}`))
  })

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) options.routes.push({ method, url: route.url })
  })
  void app.register(blobRoutes, { prefix: API_PREFIX, ctx })
  // its own plugin: a JSON body, where the other blob routes take the raw request stream
  void app.register(importRoutes, { prefix: API_PREFIX, ctx, log: options.log })
  void app.register(dirImportRoutes, { prefix: API_PREFIX, ctx, log: options.log })
  void app.register(exportRoutes, { prefix: API_PREFIX, ctx, log: options.log })
  // its own plugin too: JSON bodies (the fetch route), like import
  void app.register(dirRoutes, { prefix: API_PREFIX, ctx, log: options.log })
  void app.register(refRoutes, { prefix: API_PREFIX, ctx })
  void app.register(nodeRoutes, { prefix: API_PREFIX, ctx })
  void app.register(metricsRoutes, { ctx, metrics: options.metrics })
  void app.register(uiRoutes, { ctx, sessions, source: options.ui, failures: () => options.metrics.recentFailures() })
  return app
}
