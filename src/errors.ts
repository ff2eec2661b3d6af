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

export type TroveErrorClass = new (message: string, options?: { cause?: unknown }) => TroveError

/** Makes an error class for one failure kind: a stable `name`, `code` and HTTP status. */
export function errorKind (name: string, code: string, status: number): TroveErrorClass {
  const cls = class extends TroveError {
    constructor (message: string, options?: { cause?: unknown }) {
      super(message, code, status, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

export const InvalidUriError = errorKind('InvalidUriError', 'INVALID_URI', 400)
export const InvalidKeyError = errorKind('InvalidKeyError', 'INVALID_KEY', 400)
export const InvalidJsonError = errorKind('InvalidJsonError', 'INVALID_JSON', 400)
export const InvalidArgumentError = errorKind('InvalidArgumentError', 'INVALID_ARGUMENT', 400)
export const BlobNotFoundError = errorKind('BlobNotFoundError', 'BLOB_NOT_FOUND', 404)
export const RefNotFoundError = errorKind('RefNotFoundError', 'REF_NOT_FOUND', 404)
export const VersionNotFoundError = errorKind('VersionNotFoundError', 'VERSION_NOT_FOUND', 404)
export const FileNotFoundError = errorKind('FileNotFoundError', 'FILE_NOT_FOUND', 400)
export const DataDirLockedError = errorKind('DataDirLockedError', 'DATA_DIR_LOCKED', 409)
export const DataDirMissingError = errorKind('DataDirMissingError', 'DATA_DIR_MISSING', 400)
export const SchemaVersionError = errorKind('SchemaVersionError', 'SCHEMA_VERSION', 500)
export const StorageFullError = errorKind('StorageFullError', 'STORAGE_FULL', 507)
export const HashMismatchError = errorKind('HashMismatchError', 'HASH_MISMATCH', 502)
export const RangeNotSatisfiableError = errorKind('RangeNotSatisfiableError', 'RANGE_NOT_SATISFIABLE', 416)
/** A pack file's records cannot be walked to its end (disk damage, a file cut short); `trove verify` repairs it. */
export const PackDamagedError = errorKind('PackDamagedError', 'PACK_DAMAGED', 500)
/** A listen address (libp2p or HTTP API) is taken by another process. */
export const AddressInUseError = errorKind('AddressInUseError', 'ADDRESS_IN_USE', 500)
export const AbortError = errorKind('AbortError', 'ABORTED', 499)
/** An output file (`get -o`) is already there; the command refuses to overwrite it without --force. */
export const FileExistsError = errorKind('FileExistsError', 'FILE_EXISTS', 409)
/** Files can be added only to a ref whose value is a JSON object (name -> URI); this ref holds something else. */
export const RefNotObjectError = errorKind('RefNotObjectError', 'REF_NOT_OBJECT', 409)

export function isTroveError (err: unknown): err is TroveError {
  return err instanceof TroveError
}

/** Node's errno codes that mean the volume has no room left for our write. */
export function isDiskFull (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
}
