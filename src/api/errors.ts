import * as errors from '../errors.js'
import { TroveError, errorKind, type TroveErrorClass } from '../errors.js'
import * as protocolErrors from '../protocols/errors.js'
import * as transferErrors from '../transfer/errors.js'

type ErrorClass = TroveErrorClass
const kind = errorKind

/** Failures that only exist over HTTP. Codes are stable like those of src/errors.ts. */
export const ForbiddenHostError = kind('ForbiddenHostError', 'FORBIDDEN_HOST', 403)
export const UnauthorizedError = kind('UnauthorizedError', 'UNAUTHORIZED', 401)
export const NotFoundError = kind('NotFoundError', 'NOT_FOUND', 404)
export const NotImplementedError = kind('NotImplementedError', 'NOT_IMPLEMENTED', 501)
export const PayloadTooLargeError = kind('PayloadTooLargeError', 'PAYLOAD_TOO_LARGE', 413)
export const UnsupportedMediaTypeError = kind('UnsupportedMediaTypeError', 'UNSUPPORTED_MEDIA_TYPE', 415)
export const InternalError = kind('InternalError', 'INTERNAL', 500)
export const ApiUnavailableError = kind('ApiUnavailableError', 'API_UNAVAILABLE', 503)
export { AddressInUseError } from '../errors.js'

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string, name: string, message: string }
}

/** Every error class a client may see, by code, so the client rethrows what the embedded node would. */
const BY_CODE = new Map<string, ErrorClass>()
for (const value of [...Object.values(errors), ...Object.values(transferErrors), ...Object.values(protocolErrors)]) registerClass(value)
for (const cls of [ForbiddenHostError, UnauthorizedError, NotFoundError, NotImplementedError, PayloadTooLargeError,
  UnsupportedMediaTypeError, InternalError, ApiUnavailableError]) registerClass(cls)

function registerClass (value: unknown): void {
  if (typeof value !== 'function' || value === TroveError || !(value.prototype instanceof TroveError)) return
  // the code lives on instances only; make one to learn it
  const probe = new (value as ErrorClass)('')
  BY_CODE.set(probe.code, value as ErrorClass)
}

/** Rebuilds the error a server answered, as the same class the server threw. */
export function errorFromBody (body: unknown, status: number): TroveError {
  const e = (body as Partial<ErrorBody> | undefined)?.error
  if (e === undefined || typeof e.code !== 'string') {
    // fastify answers requests that arrive while the node shuts down itself, in its own shape
    if (status === 503) return new ApiUnavailableError('the Trove node is shutting down')
    return new InternalError(`the Trove API answered HTTP ${status} without an error description`)
  }
  const message = typeof e.message === 'string' ? e.message : e.code
  const cls = BY_CODE.get(e.code)
  if (cls !== undefined) return new cls(message)
  // a code this client does not know (a newer server): keep code, name and status as sent
  const err = new TroveError(message, e.code, status)
  err.name = typeof e.name === 'string' ? e.name : 'TroveError'
  return err
}

/** What the server answers for any thrown value: TroveErrors as they are, anything else as INTERNAL. */
export function errorToBody (err: unknown): { status: number, body: ErrorBody } {
  const mapped = mapError(err)
  return { status: mapped.status, body: { error: { code: mapped.code, name: mapped.name, message: mapped.message } } }
}

function mapError (err: unknown): TroveError {
  if (err instanceof TroveError) return err
  const e = err as { code?: string, statusCode?: number, message?: string, name?: string } | undefined
  const code = e?.code ?? ''
  const status = e?.statusCode
  // fastify's own errors carry a status; translate the ones a client can cause into our codes
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return new PayloadTooLargeError('request body is larger than the API accepts')
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) return new UnsupportedMediaTypeError('unsupported or malformed Content-Type')
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e instanceof SyntaxError) {
    return new errors.InvalidJsonError('request body is not valid JSON')
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new errors.InvalidArgumentError(e?.message ?? 'bad request')
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') return new errors.StorageFullError('disk full')
  return new InternalError('internal error (see the node\'s log)')
}
