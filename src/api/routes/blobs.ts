import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { InvalidArgumentError, RangeNotSatisfiableError } from '../../errors.js'
import { assertKey } from '../../refs/keys.js'
import { normalizeMeta } from '../../refs/meta.js'
import { assertSha1Hex } from '../../uri.js'
import type { ApiContext } from '../context.js'
import type { Eviction } from '../../ops.js'
import { EVICTIONS_HEADER, MAX_FILE_NAME_LENGTH } from '../constants.js'
import { encodeEvictions } from '../evictions.js'
import { parseRange } from '../range.js'
import { authorOf, queryFlag, queryInt, queryJson, queryString, requestSignal } from './util.js'

/**
 * Blobs in and out as raw bytes. Uploads are never buffered: the request stream goes straight
 * into the store's ingest (temp file, hash while writing, rename), so any size works with
 * constant memory. Downloads stream from the blob file, leased while they are read.
 */
export async function blobRoutes (app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts

  // any content type, handed over as the raw request stream; no body limit applies to it
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })

  app.post('/blobs', async (request, reply) => {
    const name = queryString(request, 'name')
    if (name !== undefined && (name.length > MAX_FILE_NAME_LENGTH || name.includes('/'))) {
      throw new InvalidArgumentError(`name must be a file name (no "/", at most ${MAX_FILE_NAME_LENGTH} characters)`)
    }
    const pin = queryFlag(request, 'pin')
    const ref = queryString(request, 'ref')
    // everything that can be refused is checked before a byte is stored
    if (ref !== undefined) assertKey(ref)
    const refMeta = ref !== undefined ? normalizeMeta(queryJson(request, 'meta')) : undefined
    const { by } = authorOf(request)
    const source = (request.body as Readable | undefined) ?? []
    // a ref that cannot take the file is refused there, before the upload is stored
    return ctx.ops.addStream(source, { name, pin, ref, refMeta, by, signal: requestSignal(reply) })
  })

  // what the node knows of a blob, nothing fetched: with wait=1 it looks for providers as a fetch does
  app.get('/blobs/:sha1/info', async (request, reply) => {
    const sha1 = assertSha1Hex((request.params as { sha1: string }).sha1)
    return ctx.ops.blobInfo(sha1, { wait: queryFlag(request, 'wait'), timeoutMs: queryInt(request, 'timeoutMs', 1), signal: requestSignal(reply) })
  })

  app.get('/blobs/:sha1', async (request, reply) => serveBlob(ctx, request, reply, { head: false, sha1: assertSha1Hex((request.params as { sha1: string }).sha1) }))
  app.head('/blobs/:sha1', async (request, reply) => serveBlob(ctx, request, reply, { head: true, sha1: assertSha1Hex((request.params as { sha1: string }).sha1) }))
}

/**
 * A blob's bytes (or HEAD: its headers), with Range, conditional requests and fetching from peers:
 * `GET /blobs/{sha1}`, and `GET /dirs/{sha1}/{path}` for a file inside a directory (`name`
 * defaults to the file's own name there).
 */
export async function serveBlob (ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, what: { head: boolean, sha1: string, name?: string }): Promise<FastifyReply> {
  const { head, sha1 } = what
  const name = queryString(request, 'name') ?? what.name
  const timeoutMs = queryInt(request, 'timeoutMs', 1)
  const signal = requestSignal(reply)
  // the size only: the store's, else the providers' word (enough for HEAD and to read a Range
  // header; the bytes sent are verified whatever it says)
  const info = await ctx.ops.blobInfo(sha1, { wait: true, timeoutMs, signal })
  const size = info.size ?? 0
  const etag = `"${sha1}"`
  reply.header('etag', etag)
  reply.header('accept-ranges', 'bytes')
  // content-addressed: the bytes at this URL can never change
  reply.header('cache-control', 'public, max-age=31536000, immutable')
  if (name !== undefined && name !== '') reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
  if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send()

  const ifRange = request.headers['if-range']
  const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, size) : { kind: 'none' as const }
  if (!head && !info.local && range.kind === 'none') return sendRemote(ctx, sha1, reply, timeoutMs)
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`)
    throw new RangeNotSatisfiableError(`range ${String(request.headers.range)} is outside the blob of ${size} bytes`)
  }
  const start = range.kind === 'range' ? range.range.start : 0
  const length = range.kind === 'range' ? range.range.end - range.range.start + 1 : size
  // opening the stream takes the lease (a stored blob cannot be evicted while it is sent); a
  // range of a remote blob fetches only the chunks that cover it, the first before this returns
  const stream = head ? undefined : await ctx.ops.cat(sha1, { offset: start, length }, { timeoutMs })
  if (range.kind === 'range') {
    reply.code(206)
    reply.header('content-range', `bytes ${range.range.start}-${range.range.end}/${size}`)
  }
  reply.header('content-type', 'application/octet-stream')
  reply.header('content-length', String(length))
  if (stream === undefined) return reply.send()
  return reply.send(stream)
}

/**
 * The whole of a blob the node does not hold: sent as it is fetched into the store (Trove.cat
 * streams a large blob's chunks in order as they are verified, the last once the whole blob hashed
 * to its sha1). Content-Length is the size the chunk manifest gives: a fetch that fails ends the
 * answer without its final chunk, short of that length, which a client sees as a broken transfer.
 * Evictions known before the first byte go in the header; a client that left does not stop the
 * fetch, which ends in the store.
 */
async function sendRemote (ctx: ApiContext, sha1: string, reply: FastifyReply, timeoutMs: number | undefined): Promise<FastifyReply> {
  const evictions: Eviction[] = []
  let sending = false
  let size: number | undefined
  const stream = await ctx.ops.cat(sha1, {}, { timeoutMs, onEvictions: (e) => { if (!sending) evictions.push(...e) }, onSize: (n) => { size = n } })
  sending = true
  if (evictions.length > 0) reply.header(EVICTIONS_HEADER, encodeEvictions(evictions))
  reply.header('content-type', 'application/octet-stream')
  if (size !== undefined) reply.header('content-length', String(size))
  return reply.send(stream)
}

function matchesEtag (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '')
    return v === '*' || v === etag
  })
}
