import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { constants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DIR_LIST_MAX_LIMIT } from '../../dirs/constants.js'
import { DIR_SCHEME, formatDirUri, parseDirUri } from '../../dirs/uri.js'
import { FileNotFoundError, FileNotWritableError, InvalidArgumentError } from '../../errors.js'
import type { DirProgress, FetchDirResult, GetDirResult } from '../../ops.js'
import { API_PREFIX } from '../constants.js'
import type { ApiContext } from '../context.js'
import type { errorToBody } from '../errors.js'
import { serveBlob } from './blobs.js'
import { acceptJsonBodies } from './json-body.js'
import { ndjsonAnswer, wantsNdjson } from './ndjson.js'
import { bodyObject, queryFlag, queryInt, queryString, requestSignal } from './util.js'

/** A progress line is sent at most this often: a tree of 100,000 small files must not become 100,000 lines. */
const PROGRESS_LINE_MS = 100

const FETCH_FIELDS = new Set(['path', 'dest', 'force', 'timeoutMs'])

/** One line of `POST /dirs/{sha1}/fetch`'s progress stream. */
export type DirFetchLine =
  | { progress: DirProgress }
  | { result: FetchDirResult | GetDirResult }
  | ReturnType<typeof errorToBody>['body']

/**
 * Directories (`sha1dir://`): `GET /dirs/{sha1}[/{path}]` lists a directory (JSON, paged) or
 * serves a file inside it (bytes, with Range, as `GET /blobs/{sha1}`); `POST /dirs/{sha1}/fetch`
 * makes a whole tree local and, given `dest`, writes it there.
 */
export async function dirRoutes (app: FastifyInstance, opts: { ctx: ApiContext, log?: (message: string) => void }): Promise<void> {
  const { ctx } = opts
  acceptJsonBodies(app)

  const get = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    // the path as sent, percent-encoding and all: sha1dir:// URI rules decode each segment once
    const raw = request.url.split('?', 1)[0].slice(`${API_PREFIX}/dirs/`.length)
    const uri = DIR_SCHEME + raw
    parseDirUri(uri)
    const timeoutMs = queryInt(request, 'timeoutMs', 1)
    const signal = requestSignal(reply)
    const listing = await ctx.ops.listDir(uri, { limit: queryInt(request, 'limit', 1, DIR_LIST_MAX_LIMIT), cursor: queryString(request, 'cursor'), timeoutMs, signal })
    if (listing.kind === 'dir' || queryFlag(request, 'list')) return listing
    return serveBlob(ctx, request, reply, { head: false, sha1: listing.sha1 })
  }
  app.get('/dirs/:sha1', get)
  app.get('/dirs/:sha1/*', get)

  app.post('/dirs/:sha1/fetch', async (request, reply) => {
    const sha1 = (request.params as { sha1: string }).sha1
    const body = bodyObject(request, 'POST /dirs/{sha1}/fetch', true)
    const unknown = Object.keys(body).filter((k) => !FETCH_FIELDS.has(k))
    if (unknown.length > 0) throw new InvalidArgumentError(`POST /dirs/{sha1}/fetch: unknown body field(s) ${unknown.join(', ')} (expected ${[...FETCH_FIELDS].join(', ')})`)
    if (body.path !== undefined && typeof body.path !== 'string') throw new InvalidArgumentError('"path" must be a string: the path inside the directory, as in a sha1dir:// URI')
    const uri = formatDirUri(sha1) + (typeof body.path === 'string' && body.path !== '' ? `/${body.path.replace(/^\/+/, '')}` : '')
    const parsed = parseDirUri(uri)
    const dest = body.dest
    if (dest !== undefined && (typeof dest !== 'string' || dest.includes('\0') || !path.isAbsolute(dest))) throw new InvalidArgumentError('"dest" must be an absolute path without NUL: where the node writes the tree')
    if (body.force !== undefined && typeof body.force !== 'boolean') throw new InvalidArgumentError('"force" must be true or false')
    if (body.force === true && dest === undefined) throw new InvalidArgumentError('"force" applies to "dest"; give "dest" too')
    const timeoutMs = body.timeoutMs
    if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) <= 0)) throw new InvalidArgumentError('"timeoutMs" must be a positive integer')
    // refused before anything is fetched: the client then writes the tree itself
    if (typeof dest === 'string') await checkDestParent(dest)
    const signal = requestSignal(reply)
    const target = formatDirUri(parsed.sha1, parsed.path)
    const run = async (onProgress?: (p: DirProgress) => void): Promise<FetchDirResult | GetDirResult> => {
      const options = { signal, onProgress, timeoutMs: timeoutMs as number | undefined }
      return typeof dest === 'string' ? ctx.ops.getDir(target, dest, { ...options, force: body.force === true }) : ctx.ops.fetchDir(target, options)
    }
    if (!wantsNdjson(request.headers.accept)) return run()
    return ndjsonAnswer(reply, 'result', async (line) => {
      let last = 0
      return run((p) => {
        const now = Date.now()
        // the last of a phase always goes out, so the bar ends where the work did
        if (now - last < PROGRESS_LINE_MS && p.files < p.totalFiles) return
        last = now
        line({ progress: p })
      })
    }, { route: 'POST /dirs/{sha1}/fetch', log: opts.log })
  })
}

/**
 * The node writes `dest` only into a directory it sees and may write: one the client made (it
 * makes the parent first), not one the node would create in a filesystem the client may not see
 * (another mount namespace, a container).
 */
async function checkDestParent (dest: string): Promise<void> {
  const parent = path.dirname(dest)
  const stat = await fs.stat(parent).catch(() => undefined)
  if (stat?.isDirectory() !== true) throw new FileNotFoundError(`the node sees no directory ${parent} to write ${path.basename(dest)} into`)
  try {
    await fs.access(parent, constants.W_OK)
  } catch (err) {
    throw new FileNotWritableError(`the node's user may not write into ${parent} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err })
  }
}
