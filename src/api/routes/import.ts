import type { FastifyInstance } from 'fastify'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FileNotFoundError, FileNotReadableError, InvalidArgumentError } from '../../errors.js'
import type { AddResult } from '../../ops.js'
import { assertKey } from '../../refs/keys.js'
import { normalizeMeta, type RefMeta } from '../../refs/meta.js'
import type { ApiContext } from '../context.js'
import { MAX_IMPORT_PATHS } from '../constants.js'
import { errorToBody } from '../errors.js'
import { acceptJsonBodies } from './json-body.js'
import { ndjsonAnswer, wantsNdjson } from './ndjson.js'
import { authorOf, bodyObject, requestSignal } from './util.js'

const BODY_FIELDS = new Set(['paths', 'ref', 'pin', 'meta'])

/** One line of `POST /blobs/import`'s progress stream. */
export type ImportLine =
  | { progress: { file: number, bytes: number } }
  | { results: AddResult[] }
  | ReturnType<typeof errorToBody>['body']

/**
 * `POST /blobs/import`: the node stores files it reads itself, named by absolute path, through
 * the same `addFiles` as an embedded add (the kernel copies each file into the store; no byte
 * crosses HTTP). Every path is checked before anything is stored. With `Accept:
 * application/x-ndjson` the answer is a stream of progress lines ending in the results (or an
 * error), so `trove add` can draw its bar; otherwise one JSON answer.
 */
export async function importRoutes (app: FastifyInstance, opts: { ctx: ApiContext, log?: (message: string) => void }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  app.post('/blobs/import', async (request, reply) => {
    const body = bodyObject(request, 'POST /blobs/import')
    const unknown = Object.keys(body).filter((k) => !BODY_FIELDS.has(k))
    if (unknown.length > 0) throw new InvalidArgumentError(`POST /blobs/import: unknown body field(s) ${unknown.join(', ')} (expected ${[...BODY_FIELDS].join(', ')})`)
    const paths = body.paths
    if (!Array.isArray(paths) || paths.length === 0 || paths.length > MAX_IMPORT_PATHS) {
      throw new InvalidArgumentError(`"paths" must be an array of 1 to ${MAX_IMPORT_PATHS} absolute file paths`)
    }
    for (const p of paths) await checkImportPath(p)
    const options = { ...refFields(body), ...authorOf(request), signal: requestSignal(reply) }
    const files = paths as string[]
    if (!wantsNdjson(request.headers.accept)) return { results: await ctx.ops.addFiles(files, options) }
    return ndjsonAnswer(reply, 'results', async (line) => ctx.ops.addFiles(files, { ...options, onProgress: (bytes, file = 0) => { line({ progress: { file, bytes } }) } }), { route: 'POST /blobs/import', log: opts.log })
  })
}

/** The `ref`, `meta` and `pin` fields of an import's body, checked. */
export function refFields (body: Record<string, unknown>): { ref?: string, refMeta?: RefMeta, pin: boolean } {
  const ref = body.ref
  if (ref !== undefined && typeof ref !== 'string') throw new InvalidArgumentError('"ref" must be a string')
  if (ref !== undefined) assertKey(ref)
  if (body.pin !== undefined && typeof body.pin !== 'boolean') throw new InvalidArgumentError('"pin" must be true or false')
  // meta describes the ref; dropping it silently would leave the content less protected than asked
  if (ref === undefined && body.meta !== undefined) throw new InvalidArgumentError('"meta" applies to the ref named by "ref"; give "ref" too')
  return { ref, refMeta: ref !== undefined ? normalizeMeta(body.meta) : undefined, pin: body.pin === true }
}

/**
 * A path the node may import: absolute (the node's working directory means nothing to the
 * caller), without NUL, naming a regular file the node's user can read.
 */
export async function checkImportPath (p: unknown): Promise<void> {
  if (typeof p !== 'string' || p.includes('\0') || !path.isAbsolute(p)) {
    throw new InvalidArgumentError(`"paths" must hold absolute file paths without NUL, got ${JSON.stringify(p)?.slice(0, 200)}`)
  }
  const stat = await fs.stat(p).catch((err: unknown) => { throw fileError(p, err) })
  if (!stat.isFile()) throw new FileNotFoundError(`not a regular file: ${p}`)
  const fh = await fs.open(p, 'r').catch((err: unknown) => { throw fileError(p, err) })
  await fh.close()
}

export function fileError (p: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') return new FileNotReadableError(`the node cannot read ${p}: ${code}`, { cause: err })
  return new FileNotFoundError(`no such file: ${p} (${code ?? String(err)})`, { cause: err })
}
