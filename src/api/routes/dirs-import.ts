import type { FastifyInstance } from 'fastify'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, InvalidArgumentError } from '../../errors.js'
import type { AddDirResult } from '../../ops.js'
import type { ApiContext } from '../context.js'
import type { errorToBody } from '../errors.js'
import { acceptJsonBodies } from './json-body.js'
import { fileError, refFields } from './import.js'
import { ndjsonAnswer, wantsNdjson } from './ndjson.js'
import { authorOf, bodyObject, requestSignal } from './util.js'

const BODY_FIELDS = new Set(['path', 'ref', 'pin', 'meta', 'followSymlinks'])

/** Progress lines are at most this often: a folder of 100,000 small files is not 100,000 lines. */
const PROGRESS_EVERY_MS = 100

/** One line of `POST /dirs/import`'s progress stream. */
export type DirImportLine =
  | { progress: { files: number, bytes: number } }
  | { result: AddDirResult }
  | ReturnType<typeof errorToBody>['body']

/**
 * `POST /dirs/import`: the node stores a local directory it reads itself, named by absolute path,
 * through the same `addDir` as an embedded add. With `Accept: application/x-ndjson` the answer is
 * a stream of progress lines ending in the result (or an error); otherwise the result as JSON.
 */
export async function dirImportRoutes (app: FastifyInstance, opts: { ctx: ApiContext, log?: (message: string) => void }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.post('/dirs/import', async (request, reply) => {
    const body = bodyObject(request, 'POST /dirs/import')
    const unknown = Object.keys(body).filter((k) => !BODY_FIELDS.has(k))
    if (unknown.length > 0) throw new InvalidArgumentError(`POST /dirs/import: unknown body field(s) ${unknown.join(', ')} (expected ${[...BODY_FIELDS].join(', ')})`)
    const dir = body.path
    if (typeof dir !== 'string' || dir.includes('\0') || !path.isAbsolute(dir)) {
      throw new InvalidArgumentError(`"path" must be the absolute path of a directory, without NUL; got ${JSON.stringify(dir)?.slice(0, 200)}`)
    }
    if (body.followSymlinks !== undefined && typeof body.followSymlinks !== 'boolean') throw new InvalidArgumentError('"followSymlinks" must be true or false')
    const st = await fs.stat(dir).catch((err: unknown) => { throw fileError(dir, err) })
    if (!st.isDirectory()) throw new FileNotFoundError(`not a directory: ${dir}`)
    await fs.access(dir, fs.constants.R_OK | fs.constants.X_OK).catch((err: unknown) => { throw fileError(dir, err) })
    const options = { ...refFields(body), followSymlinks: body.followSymlinks === true, ...authorOf(request), signal: requestSignal(reply) }
    if (!wantsNdjson(request.headers.accept)) return await ctx.ops.addDir(dir, options)
    return ndjsonAnswer(reply, 'result', async (line) => {
      let last = 0
      return await ctx.ops.addDir(dir, {
        ...options,
        onProgress: (p) => {
          const now = Date.now()
          if (now - last < PROGRESS_EVERY_MS) return
          last = now
          line({ progress: { ...p } })
        }
      })
    }, { route: 'POST /dirs/import', log: opts.log })
  })
}
