/**
 * One error class per failure kind, in the js-libp2p shape plus a stable `code`: `static name`
 * (kept when a bundler renames classes) and `static code`. Instances carry both as `name` and
 * `code`. Tests, scripts (via `--json`) and HTTP clients match on them, never on the message text;
 * code matches with `isError`. The HTTP status of each code is the API's business (api/errors.ts).
 */
export abstract class TroveError extends Error {
  readonly code: string

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = (new.target as unknown as TroveErrorClass).code
  }
}

/** A failure kind: a concrete error class with its stable code. */
export type TroveErrorClass = (new (message: string, options?: ErrorOptions) => TroveError) & { readonly code: string }

export class InvalidUriError extends TroveError {
  static override name = 'InvalidUriError'
  static readonly code = 'INVALID_URI'
}

export class InvalidKeyError extends TroveError {
  static override name = 'InvalidKeyError'
  static readonly code = 'INVALID_KEY'
}

export class InvalidJsonError extends TroveError {
  static override name = 'InvalidJsonError'
  static readonly code = 'INVALID_JSON'
}

/** Bytes that claim to be a directory manifest but are not a valid, canonical one (docs/formats.md). */
export class InvalidDirManifestError extends TroveError {
  static override name = 'InvalidDirManifestError'
  static readonly code = 'INVALID_DIR_MANIFEST'
}

/**
 * A local directory being added holds something a directory cannot record (docs/formats.md): a
 * symlink (without --follow-symlinks, or one that leads out of the tree or into a loop), a name
 * that is not valid UTF-8 or is not a single path segment. The message names the path.
 */
export class InvalidDirEntryError extends TroveError {
  static override name = 'InvalidDirEntryError'
  static readonly code = 'INVALID_DIR_ENTRY'
}

/** A `sha1dir://` path names no entry of the directory (or runs through a file as if it were one). */
export class DirPathNotFoundError extends TroveError {
  static override name = 'DirPathNotFoundError'
  static readonly code = 'DIR_PATH_NOT_FOUND'
}

/** A file was asked for (`cat`, a range) where the path names a directory; `ls` or `get` it instead. */
export class IsADirectoryError extends TroveError {
  static override name = 'IsADirectoryError'
  static readonly code = 'IS_A_DIRECTORY'
}

export class InvalidArgumentError extends TroveError {
  static override name = 'InvalidArgumentError'
  static readonly code = 'INVALID_ARGUMENT'
}

export class BlobNotFoundError extends TroveError {
  static override name = 'BlobNotFoundError'
  static readonly code = 'BLOB_NOT_FOUND'
}

export class RefNotFoundError extends TroveError {
  static override name = 'RefNotFoundError'
  static readonly code = 'REF_NOT_FOUND'
}

export class VersionNotFoundError extends TroveError {
  static override name = 'VersionNotFoundError'
  static readonly code = 'VERSION_NOT_FOUND'
}

export class FileNotFoundError extends TroveError {
  static override name = 'FileNotFoundError'
  static readonly code = 'FILE_NOT_FOUND'
}

/** The file exists but this process may not read it (a node importing a path its user cannot read). */
export class FileNotReadableError extends TroveError {
  static override name = 'FileNotReadableError'
  static readonly code = 'FILE_NOT_READABLE'
}

/** A directory exists but this process may not create files in it (a node writing `get -o`'s file). */
export class FileNotWritableError extends TroveError {
  static override name = 'FileNotWritableError'
  static readonly code = 'FILE_NOT_WRITABLE'
}

export class DataDirLockedError extends TroveError {
  static override name = 'DataDirLockedError'
  static readonly code = 'DATA_DIR_LOCKED'
}

export class DataDirMissingError extends TroveError {
  static override name = 'DataDirMissingError'
  static readonly code = 'DATA_DIR_MISSING'
}

export class SchemaVersionError extends TroveError {
  static override name = 'SchemaVersionError'
  static readonly code = 'SCHEMA_VERSION'
}

export class StorageFullError extends TroveError {
  static override name = 'StorageFullError'
  static readonly code = 'STORAGE_FULL'
}

/** The database failed a write for another reason than a full disk (EIO); writes wait for its reopen. */
export class StorageFailedError extends TroveError {
  static override name = 'StorageFailedError'
  static readonly code = 'STORAGE_FAILED'
}

export class HashMismatchError extends TroveError {
  static override name = 'HashMismatchError'
  static readonly code = 'HASH_MISMATCH'
}

export class RangeNotSatisfiableError extends TroveError {
  static override name = 'RangeNotSatisfiableError'
  static readonly code = 'RANGE_NOT_SATISFIABLE'
}

/** A pack file's records cannot be walked to its end (disk damage, a file cut short); `trove verify` repairs it. */
export class PackDamagedError extends TroveError {
  static override name = 'PackDamagedError'
  static readonly code = 'PACK_DAMAGED'
}

/** A listen address (libp2p or HTTP API) is taken by another process. */
export class AddressInUseError extends TroveError {
  static override name = 'AddressInUseError'
  static readonly code = 'ADDRESS_IN_USE'
}

/** A peer given to connect to could not be reached (the message says why, as libp2p put it). */
export class PeerUnreachableError extends TroveError {
  static override name = 'PeerUnreachableError'
  static readonly code = 'PEER_UNREACHABLE'
}

/** What was asked needs a running node (`trove start`), and none runs on the data directory. */
export class NodeNotRunningError extends TroveError {
  static override name = 'NodeNotRunningError'
  static readonly code = 'NODE_NOT_RUNNING'
}

export class AbortError extends TroveError {
  static override name = 'AbortError'
  static readonly code = 'ABORTED'
}

/** An output file (`get -o`) is already there; the command refuses to overwrite it without --force. */
export class FileExistsError extends TroveError {
  static override name = 'FileExistsError'
  static readonly code = 'FILE_EXISTS'
}

/** Files can be added only to a ref whose value is a JSON object (name -> URI); this ref holds something else. */
export class RefNotObjectError extends TroveError {
  static override name = 'RefNotObjectError'
  static readonly code = 'REF_NOT_OBJECT'
}

/**
 * Something that cannot happen did (a broken invariant: a bug), or the system failed in a way
 * nothing else names. The same code the CLI and the API give any error that is not a TroveError.
 */
export class InternalError extends TroveError {
  static override name = 'InternalError'
  static readonly code = 'INTERNAL'
}

export function isTroveError (err: unknown): err is TroveError {
  return err instanceof TroveError
}

/**
 * Whether `err` is of the kind `cls`, matched on the name as js-libp2p does: an error rebuilt by
 * the API client, or one thrown by another copy of this module, still matches.
 */
export function isError<T extends Error> (err: unknown, cls: abstract new (...args: any[]) => T): err is T {
  return (err as Error | null | undefined)?.name === cls.name
}

/** Node's errno codes that mean the volume has no room left for our write. */
export function isDiskFull (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
}
