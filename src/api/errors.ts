import * as errors from '../errors.js'
import { InternalError, TroveError, isError, type TroveErrorClass } from '../errors.js'
import * as protocolErrors from '../protocols/errors.js'
import * as transferErrors from '../transfer/errors.js'

/** Failures that only exist over HTTP. Codes are stable like those of src/errors.ts. */
export class ForbiddenHostError extends TroveError {
  static override name = 'ForbiddenHostError'
  static readonly code = 'FORBIDDEN_HOST'
}

export class ForbiddenOriginError extends TroveError {
  static override name = 'ForbiddenOriginError'
  static readonly code = 'FORBIDDEN_ORIGIN'
}

export class UnauthorizedError extends TroveError {
  static override name = 'UnauthorizedError'
  static readonly code = 'UNAUTHORIZED'
}

export class NotFoundError extends TroveError {
  static override name = 'NotFoundError'
  static readonly code = 'NOT_FOUND'
}

export class NotImplementedError extends TroveError {
  static override name = 'NotImplementedError'
  static readonly code = 'NOT_IMPLEMENTED'
}

export class PayloadTooLargeError extends TroveError {
  static override name = 'PayloadTooLargeError'
  static readonly code = 'PAYLOAD_TOO_LARGE'
}

export class UnsupportedMediaTypeError extends TroveError {
  static override name = 'UnsupportedMediaTypeError'
  static readonly code = 'UNSUPPORTED_MEDIA_TYPE'
}

export class ApiUnavailableError extends TroveError {
  static override name = 'ApiUnavailableError'
  static readonly code = 'API_UNAVAILABLE'
}

export { AddressInUseError, InternalError } from '../errors.js'

/**
 * The HTTP status the API answers with, by error code: the one place statuses live (the errors
 * themselves know nothing of HTTP). A code missing here is answered 500.
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_URI: 400,
  INVALID_KEY: 400,
  INVALID_JSON: 400,
  INVALID_ARGUMENT: 400,
  IS_A_DIRECTORY: 400,
  INVALID_DIR_MANIFEST: 400,
  FILE_NOT_FOUND: 400,
  FILE_NOT_READABLE: 400,
  INVALID_DIR_ENTRY: 400,
  FILE_NOT_WRITABLE: 400,
  DATA_DIR_MISSING: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN_HOST: 403,
  FORBIDDEN_ORIGIN: 403,
  BLOB_NOT_FOUND: 404,
  REF_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  NO_PROVIDERS: 404,
  DIR_PATH_NOT_FOUND: 404,
  DATA_DIR_LOCKED: 409,
  FILE_EXISTS: 409,
  REF_NOT_OBJECT: 409,
  NODE_NOT_RUNNING: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  ABORTED: 499,
  INTERNAL: 500,
  SCHEMA_VERSION: 500,
  PACK_DAMAGED: 500,
  ADDRESS_IN_USE: 500,
  NOT_IMPLEMENTED: 501,
  HASH_MISMATCH: 502,
  TRANSFER_FAILED: 502,
  PROTOCOL_ERROR: 502,
  PEER_UNREACHABLE: 502,
  API_UNAVAILABLE: 503,
  STORAGE_FAILED: 503,
  PEER_TIMEOUT: 504,
  STORAGE_FULL: 507
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** `peers`: NO_PROVIDERS only, the peer ids that were asked. */
  error: { code: string, name: string, message: string, peers?: string[] }
}

/** Every error class a client may see: those of the domain, transfer, protocols and this file. */
export const ERROR_CLASSES: readonly TroveErrorClass[] = [
  ...[errors, transferErrors, protocolErrors].flatMap((mod) => Object.values(mod as Record<string, unknown>).filter(isErrorClass)),
  ForbiddenHostError, ForbiddenOriginError, UnauthorizedError, NotFoundError, NotImplementedError, PayloadTooLargeError, UnsupportedMediaTypeError, ApiUnavailableError
]

function isErrorClass (value: unknown): value is TroveErrorClass {
  return typeof value === 'function' && value.prototype instanceof TroveError
}

/** The classes by code, so the client rethrows what the embedded node would. */
const BY_CODE = new Map(ERROR_CLASSES.map((cls) => [cls.code, cls]))

/** A code this client has no class for (a newer server): code and name kept as sent. */
class UnknownCodeError extends TroveError {
  constructor (message: string, override readonly code: string, name: string) {
    super(message)
    this.name = name
  }
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
  if (cls !== undefined) return withPeers(new cls(message), e.peers)
  return new UnknownCodeError(message, e.code, typeof e.name === 'string' ? e.name : 'TroveError')
}

/** What the server answers for any thrown value: TroveErrors as they are, anything else as INTERNAL. */
export function errorToBody (err: unknown): { status: number, body: ErrorBody } {
  const mapped = mapError(err)
  const body: ErrorBody = { error: { code: mapped.code, name: mapped.name, message: mapped.message } }
  const peers = (mapped as { peers?: unknown }).peers
  if (Array.isArray(peers)) body.error.peers = peers.map(String)
  return { status: STATUS_BY_CODE[mapped.code] ?? 500, body }
}

/** The error with the peers a body named (NoProvidersError's), when it has the field. */
function withPeers (err: TroveError, peers: unknown): TroveError {
  if (Array.isArray(peers)) (err as TroveError & { peers?: string[] }).peers = peers.map(String)
  return err
}

function mapError (err: unknown): TroveError {
  // an internal failure's details are for the node's log, not for the client
  if (err instanceof TroveError && !isError(err, InternalError)) return err
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
