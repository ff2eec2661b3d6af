import type { FastifyReply, FastifyRequest } from 'fastify'
import { InvalidArgumentError, InvalidJsonError } from '../../errors.js'
import { AUTHOR_HEADER, MAX_AUTHOR_LENGTH } from '../constants.js'

export type Query = Record<string, string | string[] | undefined>

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** The text of UTF-8 bytes, or undefined when they are not UTF-8 (never U+FFFD in place of bytes). */
export function strictUtf8 (bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * Refuses a query string whose percent-encoding is not UTF-8. The query parser keeps such a value
 * undecoded, so `name=%FF` would be stored as the three characters `%FF`, which `name=%25FF` also
 * decodes to.
 */
export function checkQueryEncoding (url: string): void {
  const q = url.indexOf('?')
  if (q === -1) return
  for (const part of url.slice(q + 1).split('&')) {
    try {
      decodeURIComponent(part.replaceAll('+', ' '))
    } catch {
      throw new InvalidArgumentError(`query parameter "${part.split('=', 1)[0].slice(0, 40)}" is not valid percent-encoded UTF-8`)
    }
  }
}

/** A query parameter given at most once. */
export function queryString (request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Query)[name]
  if (Array.isArray(v)) throw new InvalidArgumentError(`query parameter "${name}" given more than once`)
  return v
}

/** `1`/`true` and `0`/`false`; absent is false. */
export function queryFlag (request: FastifyRequest, name: string): boolean {
  const v = queryString(request, name)
  if (v === undefined || v === '0' || v === 'false') return false
  if (v === '' || v === '1' || v === 'true') return true
  throw new InvalidArgumentError(`query parameter "${name}" must be 1, 0, true or false, got "${v.slice(0, 40)}"`)
}

export function queryInt (request: FastifyRequest, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = queryString(request, name)
  if (v === undefined) return undefined
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min || Number(v) > max) {
    throw new InvalidArgumentError(`query parameter "${name}" must be an integer from ${min} to ${max}, got "${v.slice(0, 40)}"`)
  }
  return Number(v)
}

/** A query parameter holding JSON (e.g. `meta={"priority":2}`). */
export function queryJson (request: FastifyRequest, name: string): unknown {
  const v = queryString(request, name)
  if (v === undefined) return undefined
  try {
    return JSON.parse(v)
  } catch (err) {
    throw new InvalidJsonError(`query parameter "${name}" is not valid JSON: ${(err as Error).message}`)
  }
}

/** Who a write is recorded as: the X-Trove-By header, else the node's default (user@host). */
export function authorOf (request: FastifyRequest): { by?: string } {
  const v = request.headers[AUTHOR_HEADER]
  if (v === undefined) return {}
  const raw = Array.isArray(v) ? v[0] : v
  // node reads header bytes as latin1, one character per byte: non-ASCII is taken as UTF-8 or refused
  const by = /^[\x00-\x7f]*$/.test(raw) ? raw : strictUtf8(Buffer.from(raw, 'latin1'))
  if (by === undefined) throw new InvalidArgumentError(`${AUTHOR_HEADER} is not valid UTF-8`)
  if (by.length > MAX_AUTHOR_LENGTH) throw new InvalidArgumentError(`${AUTHOR_HEADER} is longer than ${MAX_AUTHOR_LENGTH} characters`)
  return by === '' ? {} : { by }
}

/** Aborts when the client goes away before the answer is complete (a fetch from peers stops then). */
export function requestSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort()
  })
  return controller.signal
}

/** A JSON request body that must be an object (or absent, when `optional`). */
export function bodyObject (request: FastifyRequest, what: string, optional = false): Record<string, unknown> {
  const body = request.body
  if (body === undefined && optional) return {}
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidArgumentError(`${what}: the request body must be a JSON object`)
  }
  return body as Record<string, unknown>
}
