import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as apiErrors from '../../src/api/errors.js'
import { ERROR_CLASSES, InternalError, STATUS_BY_CODE, errorFromBody, errorToBody } from '../../src/api/errors.js'
import * as errors from '../../src/errors.js'
import { HashMismatchError, InvalidArgumentError, RefNotFoundError, TroveError, isError, isTroveError, type TroveErrorClass } from '../../src/errors.js'
import * as protocolErrors from '../../src/protocols/errors.js'
import * as transferErrors from '../../src/transfer/errors.js'

/** Every error class exported by the four error modules, found independently of ERROR_CLASSES. */
const exported: TroveErrorClass[] = [...new Set([errors, transferErrors, protocolErrors, apiErrors]
  .flatMap((mod) => Object.values(mod as Record<string, unknown>))
  .filter((v): v is TroveErrorClass => typeof v === 'function' && v.prototype instanceof TroveError))]

/** name, code and HTTP status of every kind as they were when each class carried its own status: clients rely on them. */
const STABLE: Array<[string, string, number]> = [
  ['InvalidUriError', 'INVALID_URI', 400],
  ['InvalidKeyError', 'INVALID_KEY', 400],
  ['InvalidJsonError', 'INVALID_JSON', 400],
  ['InvalidArgumentError', 'INVALID_ARGUMENT', 400],
  ['BlobNotFoundError', 'BLOB_NOT_FOUND', 404],
  ['RefNotFoundError', 'REF_NOT_FOUND', 404],
  ['VersionNotFoundError', 'VERSION_NOT_FOUND', 404],
  ['FileNotFoundError', 'FILE_NOT_FOUND', 400],
  ['DataDirLockedError', 'DATA_DIR_LOCKED', 409],
  ['DataDirMissingError', 'DATA_DIR_MISSING', 400],
  ['SchemaVersionError', 'SCHEMA_VERSION', 500],
  ['StorageFullError', 'STORAGE_FULL', 507],
  ['StorageFailedError', 'STORAGE_FAILED', 503],
  ['HashMismatchError', 'HASH_MISMATCH', 502],
  ['RangeNotSatisfiableError', 'RANGE_NOT_SATISFIABLE', 416],
  ['PackDamagedError', 'PACK_DAMAGED', 500],
  ['AddressInUseError', 'ADDRESS_IN_USE', 500],
  ['FileExistsError', 'FILE_EXISTS', 409],
  ['RefNotObjectError', 'REF_NOT_OBJECT', 409],
  ['AbortError', 'ABORTED', 499],
  ['NoProvidersError', 'NO_PROVIDERS', 404],
  ['TransferFailedError', 'TRANSFER_FAILED', 502],
  ['ProtocolError', 'PROTOCOL_ERROR', 502],
  ['PeerTimeoutError', 'PEER_TIMEOUT', 504],
  ['ForbiddenHostError', 'FORBIDDEN_HOST', 403],
  ['UnauthorizedError', 'UNAUTHORIZED', 401],
  ['NotFoundError', 'NOT_FOUND', 404],
  ['NotImplementedError', 'NOT_IMPLEMENTED', 501],
  ['PayloadTooLargeError', 'PAYLOAD_TOO_LARGE', 413],
  ['UnsupportedMediaTypeError', 'UNSUPPORTED_MEDIA_TYPE', 415],
  ['InternalError', 'INTERNAL', 500],
  ['ApiUnavailableError', 'API_UNAVAILABLE', 503]
]

describe('error classes', () => {
  it('every exported error class has a name, a unique code and a status in STATUS_BY_CODE', () => {
    assert.ok(exported.length >= STABLE.length)
    const codes = exported.map((cls) => cls.code)
    assert.equal(new Set(codes).size, codes.length, `duplicate codes: ${codes.join(', ')}`)
    for (const cls of exported) {
      assert.match(cls.code, /^[A-Z][A-Z_]*$/, cls.name)
      assert.match(cls.name, /Error$/)
      assert.equal(typeof STATUS_BY_CODE[cls.code], 'number', `${cls.name} (${cls.code}) has no HTTP status`)
    }
  })

  it('STATUS_BY_CODE lists no code that no class has', () => {
    const codes = new Set(exported.map((cls) => cls.code))
    for (const code of Object.keys(STATUS_BY_CODE)) assert.ok(codes.has(code), code)
  })

  it('the client knows every exported class (ERROR_CLASSES)', () => {
    assert.deepEqual(new Set(ERROR_CLASSES), new Set(exported))
  })

  it('keeps every name, code and HTTP status', () => {
    const byName = new Map(exported.map((cls) => [cls.name, cls]))
    for (const [name, code, status] of STABLE) {
      const cls = byName.get(name)
      assert.ok(cls !== undefined, name)
      assert.equal(cls.code, code, name)
      assert.equal(STATUS_BY_CODE[code], status, name)
      const err = new cls('boom')
      assert.equal(errorToBody(err).status, status, name)
    }
  })

  it('instances carry name, code, message and cause, and are TroveErrors', () => {
    for (const cls of exported) {
      const cause = new Error('underneath')
      const err = new cls('the message', { cause })
      assert.ok(err instanceof cls && err instanceof TroveError && err instanceof Error)
      assert.ok(isTroveError(err))
      assert.equal(err.name, cls.name)
      assert.equal(err.code, cls.code)
      assert.equal(err.message, 'the message')
      assert.equal(err.cause, cause)
      assert.equal(String(err), `${cls.name}: the message`)
    }
  })

  it('a class is a type: a HashMismatchError is assignable where one is expected', () => {
    const take = (e: HashMismatchError): string => e.code
    assert.equal(take(new HashMismatchError('x')), 'HASH_MISMATCH')
  })
})

describe('isError', () => {
  it('matches on the name, so a rebuilt error matches too', () => {
    assert.ok(isError(new HashMismatchError('x'), HashMismatchError))
    assert.ok(isError(Object.assign(new Error('x'), { name: 'HashMismatchError' }), HashMismatchError))
    assert.ok(!isError(new InvalidArgumentError('x'), HashMismatchError))
    assert.ok(!isError(new Error('x'), HashMismatchError))
    for (const v of [undefined, null, 'HashMismatchError', 42, {}]) assert.ok(!isError(v, HashMismatchError))
  })
})

describe('errors over HTTP', () => {
  it('every class survives the trip through a body as the same class', () => {
    for (const cls of exported) {
      if (cls === InternalError) continue
      const { status, body } = errorToBody(new cls('over the wire'))
      assert.deepEqual(body, { error: { code: cls.code, name: cls.name, message: 'over the wire' } })
      const back = errorFromBody(body, status)
      assert.ok(back instanceof cls, cls.name)
      assert.equal(back.code, cls.code)
      assert.equal(back.name, cls.name)
      assert.equal(back.message, 'over the wire')
    }
  })

  it('an internal failure answers 500 INTERNAL with a generic message, its details stay in the log', () => {
    for (const err of [new Error('secret detail'), new InternalError('secret detail'), 'thrown string']) {
      const { status, body } = errorToBody(err)
      assert.equal(status, 500)
      assert.equal(body.error.code, 'INTERNAL')
      assert.equal(body.error.name, 'InternalError')
      assert.doesNotMatch(body.error.message, /secret/)
    }
  })

  it('a code the client does not know keeps its code and name, and answers 500 if sent on', () => {
    const err = errorFromBody({ error: { code: 'SOMETHING_NEW', name: 'SomethingNewError', message: 'from a newer server' } }, 418)
    assert.ok(err instanceof TroveError)
    assert.equal(err.code, 'SOMETHING_NEW')
    assert.equal(err.name, 'SomethingNewError')
    assert.equal(err.message, 'from a newer server')
    assert.equal(errorToBody(err).status, 500)
    assert.ok(!isError(err, RefNotFoundError))
  })

  it('an answer without an error body becomes INTERNAL, or API_UNAVAILABLE on 503', () => {
    assert.equal(errorFromBody(undefined, 500).code, 'INTERNAL')
    assert.equal(errorFromBody({ message: 'fastify' }, 503).code, 'API_UNAVAILABLE')
  })
})
