import type { FastifyInstance } from 'fastify'
import { InvalidArgumentError } from '../../errors.js'
import type { ApiContext } from '../context.js'
import { extrasOf, networkInfo } from '../context.js'
import { NotImplementedError } from '../errors.js'
import { acceptJsonBodies } from './json-body.js'
import { authorOf, bodyObject } from './util.js'

/** Pins, "why", space management and the node's own state. */
export async function nodeRoutes (app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.get('/pins', async () => {
    const pins = []
    for await (const p of ctx.trove.refs.pins()) pins.push(p)
    return { pins }
  })
  app.put('/pins/:sha1', async (request) => ctx.trove.pin((request.params as { sha1: string }).sha1, authorOf(request)))
  app.delete('/pins/:sha1', async (request) => ctx.trove.unpin((request.params as { sha1: string }).sha1))

  app.get('/why/:sha1', async (request) => ctx.trove.why((request.params as { sha1: string }).sha1))

  app.post('/gc', async (request) => {
    const body = bodyObject(request, 'POST /gc', true)
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw new InvalidArgumentError('dryRun must be true or false')
    const gc = extrasOf(ctx.trove).gc
    if (typeof gc !== 'function') throw new NotImplementedError('garbage collection is not available in this version of the node')
    return gc.call(ctx.trove, { dryRun: body.dryRun === true })
  })

  app.get('/status', async () => {
    const status = await ctx.trove.status()
    const net = networkInfo(ctx.trove)
    // the node's own report wins where it already says something about the network
    return { ...net, ...status, mode: 'node', api: { url: ctx.url } }
  })

  app.get('/peers', async () => ({ peers: await ctx.trove.peers() }))
  app.get('/transfers', async () => ({ transfers: ctx.trove.transfers() }))

  app.post('/verify', async () => ctx.trove.verify())
}
