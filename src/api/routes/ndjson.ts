import type { FastifyReply } from 'fastify'
import { PassThrough } from 'node:stream'
import { NDJSON } from '../constants.js'
import { errorToBody } from '../errors.js'

/**
 * Answers a long operation as a stream of JSON lines (`application/x-ndjson`): the lines `work`
 * writes as it goes (progress), then `{<key>: value}` with its value, or the error body when it
 * fails. The status is sent with the first line, so a failure from then on is the stream's last
 * line; an unexpected one is logged as the route's own.
 */
export function ndjsonAnswer<T> (reply: FastifyReply, key: string, work: (line: (l: unknown) => void) => Promise<T>, log: { route: string, log?: (message: string) => void }): FastifyReply {
  const out = new PassThrough()
  const line = (l: unknown): void => {
    if (!out.destroyed) out.write(JSON.stringify(l) + '\n')
  }
  void work(line)
    .then((value) => { line({ [key]: value }) }, (err: unknown) => {
      const { body } = errorToBody(err)
      if (body.error.code === 'INTERNAL') log.log?.(`API ${log.route}: ${String((err as Error)?.stack ?? err)}`)
      line(body)
    })
    .finally(() => out.end())
  reply.header('content-type', NDJSON)
  return reply.send(out)
}

/** Whether the client asked for a progress stream (`Accept: application/x-ndjson`). */
export function wantsNdjson (accept: string | string[] | undefined): boolean {
  return String(accept ?? '').includes(NDJSON)
}
