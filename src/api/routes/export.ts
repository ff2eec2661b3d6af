import type { FastifyInstance } from 'fastify'
import { constants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, FileNotWritableError, InvalidArgumentError } from '../../errors.js'
import { fileExists } from '../../fs-util.js'
import type { ExportResult } from '../../ops.js'
import { assertSha1Hex } from '../../uri.js'
import type { ApiContext } from '../context.js'
import type { errorToBody } from '../errors.js'
import { acceptJsonBodies } from './json-body.js'
import { ndjsonAnswer, wantsNdjson } from './ndjson.js'
import { bodyObject, requestSignal } from './util.js'

const BODY_FIELDS = new Set(['path', 'force', 'copy', 'timeoutMs'])

/** One line of `POST /blobs/{sha1}/export`'s progress stream. */
export type ExportLine =
  | { progress: { bytes: number, total?: number, peers?: number } }
  | { result: ExportResult }
  | ReturnType<typeof errorToBody>['body']

/**
 * `POST /blobs/{sha1}/export`: the node fetches the blob into its store (as `GET` would) and puts
 * it at an absolute path itself (`TroveOps.exportBlob`: a hard link on the same filesystem, else
 * a kernel copy; never a byte over HTTP), under a temp name beside it and then renamed. Every
 * check on the path comes before anything is fetched. With `Accept: application/x-ndjson` the
 * answer is a stream of progress lines ending in the result (or an error), as for import.
 */
export async function exportRoutes (app: FastifyInstance, opts: { ctx: ApiContext, log?: (message: string) => void }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.post('/blobs/:sha1/export', async (request, reply) => {
    const sha1 = assertSha1Hex((request.params as { sha1: string }).sha1)
    const body = bodyObject(request, 'POST /blobs/{sha1}/export')
    const unknown = Object.keys(body).filter((k) => !BODY_FIELDS.has(k))
    if (unknown.length > 0) throw new InvalidArgumentError(`POST /blobs/{sha1}/export: unknown body field(s) ${unknown.join(', ')} (expected ${[...BODY_FIELDS].join(', ')})`)
    for (const flag of ['force', 'copy'] as const) {
      if (body[flag] !== undefined && typeof body[flag] !== 'boolean') throw new InvalidArgumentError(`"${flag}" must be true or false`)
    }
    const timeoutMs = body.timeoutMs
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1)) {
      throw new InvalidArgumentError('"timeoutMs" must be a whole number of milliseconds, 1 or more')
    }
    const dest = await checkExportPath(body.path, body.force === true)
    const options = { force: body.force === true, copy: body.copy === true, timeoutMs: timeoutMs as number | undefined, signal: requestSignal(reply) }
    if (!wantsNdjson(request.headers.accept)) return { result: await ctx.ops.exportBlob(sha1, dest, options) }
    return ndjsonAnswer(reply, 'result', async (line) => ctx.ops.exportBlob(sha1, dest, { ...options, onProgress: (progress) => { line({ progress }) } }),
      { route: 'POST /blobs/{sha1}/export', log: opts.log })
  })
}

/**
 * A path the node may write a blob to: absolute, without NUL, not a directory, in a directory
 * the node's user can create files in, and (without `force`) not there yet.
 */
async function checkExportPath (p: unknown, force: boolean): Promise<string> {
  if (typeof p !== 'string' || p.includes('\0') || !path.isAbsolute(p)) {
    throw new InvalidArgumentError(`"path" must be an absolute file path without NUL, got ${JSON.stringify(p)?.slice(0, 200)}`)
  }
  const stat = await fs.stat(p).catch(() => undefined)
  if (stat?.isDirectory() === true) throw new InvalidArgumentError(`${p} is a directory; give a file path`)
  const dir = path.dirname(p)
  const dirStat = await fs.stat(dir).catch(() => undefined)
  if (dirStat?.isDirectory() !== true) throw new FileNotFoundError(`cannot write ${p}: no such directory ${dir}`)
  await fs.access(dir, constants.W_OK).catch((err: unknown) => {
    throw new FileNotWritableError(`the node cannot create files in ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
  })
  if (stat !== undefined && !force) throw fileExists(p)
  return p
}
