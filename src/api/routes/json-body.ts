import type { FastifyInstance } from 'fastify'
import { InvalidJsonError } from '../../errors.js'
import { MAX_JSON_BODY_BYTES } from '../constants.js'
import { strictUtf8 } from './util.js'

/**
 * Every non-blob body is JSON, whatever Content-Type it claims: `curl -d '{...}'` sends
 * application/x-www-form-urlencoded, and refusing that would only make scripts longer. An empty
 * body is `undefined`, which routes with optional bodies accept. JSON text is UTF-8 (RFC 8259):
 * bytes that are not are refused, where a lenient decode stored U+FFFD in place of the user's bytes.
 */
export function acceptJsonBodies (app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_JSON_BODY_BYTES }, (_request, body, done) => {
    const text = strictUtf8(body as Buffer)
    if (text === undefined) {
      done(new InvalidJsonError('request body is not valid UTF-8'), undefined)
      return
    }
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
