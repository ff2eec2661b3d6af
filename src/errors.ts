/**
 * One error class per failure kind. `name` and `code` are stable: tests, scripts (via `--json`)
 * and HTTP clients match on them, never on the message text.
 */
export class TroveError extends Error {
  readonly code: string
  /** HTTP status the API answers with for this kind of failure. */
  readonly status: number

  constructor (message: string, code: string, status = 400, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.status = status
  }
}

function kind (name: string, code: string, status: number): new (message: string, options?: { cause?: unknown }) => TroveError {
  const cls = class extends TroveError {
    constructor (message: string, options?: { cause?: unknown }) {
      super(message, code, status, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

export const InvalidUriError = kind('InvalidUriError', 'INVALID_URI', 400)
export const InvalidKeyError = kind('InvalidKeyError', 'INVALID_KEY', 400)
export const InvalidJsonError = kind('InvalidJsonError', 'INVALID_JSON', 400)
export const InvalidArgumentError = kind('InvalidArgumentError', 'INVALID_ARGUMENT', 400)
export const BlobNotFoundError = kind('BlobNotFoundError', 'BLOB_NOT_FOUND', 404)
export const RefNotFoundError = kind('RefNotFoundError', 'REF_NOT_FOUND', 404)
export const VersionNotFoundError = kind('VersionNotFoundError', 'VERSION_NOT_FOUND', 404)
export const FileNotFoundError = kind('FileNotFoundError', 'FILE_NOT_FOUND', 400)
export const DataDirLockedError = kind('DataDirLockedError', 'DATA_DIR_LOCKED', 409)
export const DataDirMissingError = kind('DataDirMissingError', 'DATA_DIR_MISSING', 400)
export const SchemaVersionError = kind('SchemaVersionError', 'SCHEMA_VERSION', 500)
export const StorageFullError = kind('StorageFullError', 'STORAGE_FULL', 507)
export const HashMismatchError = kind('HashMismatchError', 'HASH_MISMATCH', 502)
export const RangeNotSatisfiableError = kind('RangeNotSatisfiableError', 'RANGE_NOT_SATISFIABLE', 416)
export const AbortError = kind('AbortError', 'ABORTED', 499)

export function isTroveError (err: unknown): err is TroveError {
  return err instanceof TroveError
}

/** Node's errno codes that mean the volume has no room left for our write. */
export function isDiskFull (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
}
