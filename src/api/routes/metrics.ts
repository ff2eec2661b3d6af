import type { FastifyInstance } from 'fastify'
import type { NodeMetrics } from '../../metrics/metrics.js'
import type { ApiContext } from '../context.js'

/**
 * `GET /metrics` (Prometheus text) and `GET /health`, at the root rather than under /api/v1:
 * where scrapers and health checks look for them. Both only read, so like every GET they need no
 * token (docs/operations.md says why); the Host check still applies.
 */
export async function metricsRoutes (app: FastifyInstance, opts: { ctx: ApiContext, metrics: NodeMetrics }): Promise<void> {
  const { ctx, metrics } = opts

  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await metrics.render()
    return reply.type(contentType).send(text)
  })

  // cheap on purpose (a container checks it every few seconds): no space status, no database scan
  app.get('/health', async () => {
    const network = ctx.node.peerId !== undefined
    const peers = network ? (await ctx.ops.peers()).length : 0
    return { status: 'up', mode: 'node', network, peers }
  })
}
