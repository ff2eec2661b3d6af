import type { FastifyInstance } from 'fastify'
import { InvalidArgumentError } from '../../errors.js'
import { networkInfo, type ApiContext } from '../context.js'
import { acceptJsonBodies } from './json-body.js'
import { authorOf, bodyObject, requestSignal } from './util.js'

/** URIs in one `POST /fetch`: a large dataset's parts, while one request stays a bounded amount of work. */
const MAX_FETCH_URIS = 100_000

/** Pins, "why", space management and the node's own state. */
export async function nodeRoutes (app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.get('/pins', async () => ({ pins: await ctx.ops.listPins() }))
  app.put('/pins/:sha1', async (request) => ctx.ops.pin((request.params as { sha1: string }).sha1, authorOf(request)))
  app.delete('/pins/:sha1', async (request) => ctx.ops.unpin((request.params as { sha1: string }).sha1))

  app.get('/why/:sha1', async (request) => ctx.ops.why((request.params as { sha1: string }).sha1))

  app.post('/gc', async (request) => {
    const body = bodyObject(request, 'POST /gc', true)
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw new InvalidArgumentError('dryRun must be true or false')
    return ctx.ops.gc({ dryRun: body.dryRun === true })
  })

  app.get('/status', async () => {
    const status = await ctx.ops.status()
    // the node's own report describes its network when it runs one; else what we can see
    const net = status.network === undefined ? networkInfo(ctx.node) : {}
    return { ...net, ...status, mode: 'node', api: { url: ctx.url } }
  })

  app.post('/fetch', async (request, reply) => {
    const body = bodyObject(request, 'POST /fetch')
    const uris = body.uris
    if (!Array.isArray(uris) || uris.some((u) => typeof u !== 'string')) throw new InvalidArgumentError('POST /fetch: "uris" must be a list of sha1:// URIs or hashes')
    if (uris.length > MAX_FETCH_URIS) throw new InvalidArgumentError(`POST /fetch: at most ${MAX_FETCH_URIS} URIs per request`)
    const timeoutMs = body.timeoutMs
    if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) <= 0)) {
      throw new InvalidArgumentError('POST /fetch: "timeoutMs" must be a positive integer')
    }
    const options: { signal: AbortSignal, timeoutMs?: number } = { signal: requestSignal(reply) }
    if (timeoutMs !== undefined) options.timeoutMs = timeoutMs as number
    return ctx.ops.fetchMany(uris as string[], options)
  })

  app.get('/peers', async () => ({ peers: await ctx.ops.peers() }))
  app.post('/peers', async (request) => {
    const addr = bodyObject(request, 'POST /peers').addr
    if (typeof addr !== 'string') throw new InvalidArgumentError('POST /peers: "addr" must be a peer multiaddr string (like /ip4/10.0.0.5/tcp/4737/p2p/12D3KooW...)')
    return ctx.ops.connect(addr)
  })
  app.get('/transfers', async () => ({ transfers: ctx.ops.transfers() }))

  app.post('/verify', async () => ctx.ops.verify())
}
