import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidArgumentError, InvalidKeyError } from '../../errors.js'
import { metaFilterValue } from '../../ops.js'
import type { ListOptions } from '../../refs/ref-store.js'
import { API_PREFIX, MAX_LIST_LIMIT } from '../constants.js'
import type { ApiContext } from '../context.js'
import { acceptJsonBodies } from './json-body.js'
import { authorOf, bodyObject, queryInt, queryString, type Query } from './util.js'

/** Query parameters `meta.<field>=<value>` filter listings by exact meta values. */
const META_FILTER_PREFIX = 'meta.'
const HISTORY_SUFFIX = '/history'

/**
 * Refs by key. Keys contain slashes, so `/refs/<key>` is a wildcard route and the key is taken
 * from the raw URL: each part may be sent as is or percent-encoded (`%2F` for a slash). A GET
 * whose raw path ends in a literal `/history` reads the history of the key before it; the ref
 * whose last segment is itself `history` is read by encoding that slash (`/refs/a%2Fhistory`).
 * PUT, POST and DELETE have no history form, so for them the path is always the key.
 */
export async function refRoutes (app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.get('/refs', async (request) => ctx.ops.listRefs(listOptions(request)))

  app.get('/refs/*', async (request) => {
    const raw = rawKeyPath(request)
    if (raw.endsWith(HISTORY_SUFFIX)) {
      const key = decodeKey(raw.slice(0, -HISTORY_SUFFIX.length))
      return { key, history: await ctx.ops.refHistory(key) }
    }
    const version = queryInt(request, 'version', 1)
    return ctx.ops.getRef(decodeKey(raw), version !== undefined ? { version } : {})
  })

  app.put('/refs/*', async (request) => {
    const body = refBody(request, 'PUT /refs/{key}', '<any JSON>')
    if (!('obj' in body)) throw new InvalidArgumentError('PUT /refs/{key}: the body must be {"obj": <any JSON>, "meta": {...}}')
    return ctx.ops.setRef(decodeKey(rawKeyPath(request)), body.obj, body.meta, authorOf(request))
  })

  // merges members into the ref's object: how files are added to a ref (`trove add --ref`)
  app.post('/refs/*', async (request) => {
    const body = refBody(request, 'POST /refs/{key}', '{<member>: <value>, ...}')
    if (body.obj === null || typeof body.obj !== 'object' || Array.isArray(body.obj)) {
      throw new InvalidArgumentError('POST /refs/{key}: the body must be {"obj": {<member>: <value>, ...}, "meta": {...}}; obj must be an object')
    }
    return ctx.ops.mergeRef(decodeKey(rawKeyPath(request)), body.obj as Record<string, unknown>, body.meta, authorOf(request))
  })

  app.delete('/refs/*', async (request) => {
    return ctx.ops.rmRef(decodeKey(rawKeyPath(request)), authorOf(request))
  })
}

/** A PUT or POST body: `obj` and optional `meta`, nothing else. */
function refBody (request: FastifyRequest, what: string, objShape: string): { obj?: unknown, meta?: Record<string, unknown> } {
  const body = bodyObject(request, what)
  const unknown = Object.keys(body).filter((k) => k !== 'obj' && k !== 'meta')
  if (unknown.length > 0) throw new InvalidArgumentError(`${what}: unknown body field(s) ${unknown.join(', ')} (expected obj and meta; the body is {"obj": ${objShape}, "meta": {...}})`)
  return body as { obj?: unknown, meta?: Record<string, unknown> }
}

function listOptions (request: FastifyRequest): ListOptions {
  const options: ListOptions = {}
  const prefix = queryString(request, 'prefix')
  if (prefix !== undefined && prefix !== '') options.prefix = prefix
  const refsTo = queryString(request, 'refsTo')
  if (refsTo !== undefined && refsTo !== '') options.refsTo = refsTo
  const cursor = queryString(request, 'cursor')
  if (cursor !== undefined && cursor !== '') options.cursor = cursor
  const limit = queryInt(request, 'limit', 1, MAX_LIST_LIMIT)
  if (limit !== undefined) options.limit = limit
  const meta: Record<string, unknown> = {}
  for (const name of Object.keys(request.query as Query)) {
    if (!name.startsWith(META_FILTER_PREFIX)) continue
    const field = name.slice(META_FILTER_PREFIX.length)
    if (field === '') throw new InvalidArgumentError('meta filter needs a field name: meta.<field>=<value>')
    meta[field] = metaFilterValue(queryString(request, name) ?? '')
  }
  if (Object.keys(meta).length > 0) options.meta = meta
  return options
}

/** The still-encoded path after `/refs/`, from the raw URL (the router has already decoded its copy). */
function rawKeyPath (request: FastifyRequest): string {
  const path = request.url.split('?', 1)[0]
  const base = `${API_PREFIX}/refs/`
  return path.startsWith(base) ? path.slice(base.length) : ''
}

function decodeKey (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new InvalidKeyError(`ref key in the URL is not valid percent-encoding: ${raw.slice(0, 80)}`)
  }
}
