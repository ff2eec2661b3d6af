import type { FastifyInstance } from 'fastify'
import { InvalidJsonError } from '../../errors.js'
import { MAX_JSON_BODY_BYTES } from '../constants.js'

/**
 * Every non-blob body is JSON, whatever Content-Type it claims: `curl -d '{...}'` sends
 * application/x-www-form-urlencoded, and refusing that would only make scripts longer. An empty
 * body is `undefined`, which routes with optional bodies accept.
 */
export function acceptJsonBodies (app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_JSON_BODY_BYTES }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(new InvalidJsonError(`request body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })
}
