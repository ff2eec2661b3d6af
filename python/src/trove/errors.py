"""Exceptions: one class per stable error code of the Trove HTTP API, all under TroveError.

The node answers every failure as ``{"error": {"code", "name", "message"}}``; the client raises
the class registered for that ``code`` (docs/http-api.md, Errors). Codes and names are stable, so
match on the class or on ``err.code``, never on the message. A code this client does not know (a
newer node) raises :class:`TroveError` itself, carrying the code, name and HTTP status as sent.

Failures that happen on this side of the connection (no node running, a connection cut half-way,
a hash that does not match, a bad argument caught before any request) use the same classes where
the node has a code for the same thing, and a few classes of their own otherwise.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Optional, Type


class TroveError(Exception):
    """Base of every error this package raises on purpose.

    Attributes:
        code: the stable error code (``"REF_NOT_FOUND"``); the API's code when the node answered.
        status: the HTTP status the node answered with (or would have), ``None`` for failures that
            never reached the node.
        message: the human-readable message.
    """

    code: str = "TROVE_ERROR"
    status: Optional[int] = None

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        # the node's class name, for an unknown code answered by a newer node
        self.api_name = name if name is not None else type(self).__name__

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # exceptions cross process boundaries (multiprocessing) by pickling; keep code and status
        return (_rebuild, (type(self), self.message, self.code, self.status, self.api_name))


def _rebuild(cls: Type[TroveError], message: str, code: str, status: Optional[int], name: str) -> TroveError:
    return cls(message, code=code, status=status, name=name)


# --- codes the node answers (docs/http-api.md, Errors), by HTTP status -----------------------

class InvalidArgumentError(TroveError, ValueError):
    """A bad argument: a query parameter, a body field, a range, a name (400)."""
    code, status = "INVALID_ARGUMENT", 400


class InvalidJsonError(TroveError, ValueError):
    """A value that cannot be sent or stored as JSON, or a body that is not JSON (400)."""
    code, status = "INVALID_JSON", 400


class InvalidUriError(TroveError, ValueError):
    """A malformed ``sha1://`` URI or hash (400); raised locally before any request."""
    code, status = "INVALID_URI", 400


class InvalidKeyError(TroveError, ValueError):
    """A malformed ref key or prefix (400); raised locally before any request."""
    code, status = "INVALID_KEY", 400


class TroveFileNotFoundError(TroveError, builtins.FileNotFoundError):
    """A local file to store does not exist or is not a regular file (the node's FILE_NOT_FOUND).

    Also a builtin ``FileNotFoundError``, so existing ``except FileNotFoundError`` code catches it.
    """
    code, status = "FILE_NOT_FOUND", 400


class TroveFileNotReadableError(TroveError, PermissionError):
    """The node may not read a file named to it by path (the node's FILE_NOT_READABLE).

    Also a builtin ``PermissionError``, as reading the file yourself would raise.
    """
    code, status = "FILE_NOT_READABLE", 400


class InvalidDirEntryError(TroveError):
    """A directory added by path holds what a directory cannot record: a symlink (not followed, or
    leading out of the tree or into a loop) or a name that is not valid UTF-8 (INVALID_DIR_ENTRY)."""
    code, status = "INVALID_DIR_ENTRY", 400


class TroveFileNotWritableError(TroveError, PermissionError):
    """The node may not create a file in a directory named to it by path (FILE_NOT_WRITABLE).

    Also a builtin ``PermissionError``, as writing the file yourself would raise.
    """
    code, status = "FILE_NOT_WRITABLE", 400


class DataDirMissingError(TroveError):
    """The data directory was never initialized (``trove init``)."""
    code, status = "DATA_DIR_MISSING", 400


class UnauthorizedError(TroveError, PermissionError):
    """A write without the right API token (401)."""
    code, status = "UNAUTHORIZED", 401


class ForbiddenHostError(TroveError, PermissionError):
    """The Host header is not a loopback name (403)."""
    code, status = "FORBIDDEN_HOST", 403


class ForbiddenOriginError(TroveError, PermissionError):
    """A browser request from a page of another origin (403)."""
    code, status = "FORBIDDEN_ORIGIN", 403


class NotFoundError(TroveError, LookupError):
    """No such endpoint (404): usually a node older than this client."""
    code, status = "NOT_FOUND", 404


class BlobNotFoundError(TroveError, LookupError):
    """The blob is not stored on the node and no peer had it (404)."""
    code, status = "BLOB_NOT_FOUND", 404


class NoProvidersError(TroveError, LookupError):
    """The network ran but no peer holding the blob was found in time (404)."""
    code, status = "NO_PROVIDERS", 404


class RefNotFoundError(TroveError, LookupError):
    """No ref with this key (404)."""
    code, status = "REF_NOT_FOUND", 404


class VersionNotFoundError(TroveError, LookupError):
    """The ref has no such version, or that version records its removal (404)."""
    code, status = "VERSION_NOT_FOUND", 404


class DataDirLockedError(TroveError):
    """Another process holds the data directory (409)."""
    code, status = "DATA_DIR_LOCKED", 409


class InvalidDirManifestError(TroveError, ValueError):
    """A sha1dir:// hash names a blob that is not a valid, canonical directory manifest, or a
    manifest (perhaps a peer's) has a bad name, a lying size or nests too deep (400)."""
    code, status = "INVALID_DIR_MANIFEST", 400


class TroveIsADirectoryError(TroveError, builtins.IsADirectoryError):
    """A file was asked for where a sha1dir:// path names a directory (400)."""
    code, status = "IS_A_DIRECTORY", 400


class DirPathNotFoundError(TroveError, LookupError):
    """A sha1dir:// path names no entry of its directory, or runs through a file (404)."""
    code, status = "DIR_PATH_NOT_FOUND", 404


class RefNotObjectError(TroveError):
    """Files were to be added to a ref whose object is not a JSON object (409)."""
    code, status = "REF_NOT_OBJECT", 409


class TroveFileExistsError(TroveError, builtins.FileExistsError):
    """An output file is already there and was not to be overwritten (409).

    Also a builtin ``FileExistsError``, so existing ``except FileExistsError`` code catches it.
    """
    code, status = "FILE_EXISTS", 409


class PayloadTooLargeError(TroveError):
    """A JSON body over the API's limit (413)."""
    code, status = "PAYLOAD_TOO_LARGE", 413


class UnsupportedMediaTypeError(TroveError):
    """A malformed Content-Type header (415)."""
    code, status = "UNSUPPORTED_MEDIA_TYPE", 415


class RangeNotSatisfiableError(TroveError):
    """A byte range that starts at or past the end of the blob (416)."""
    code, status = "RANGE_NOT_SATISFIABLE", 416


class AbortError(TroveError):
    """The operation was cancelled (499)."""
    code, status = "ABORTED", 499


class InternalError(TroveError):
    """An unexpected failure in the node; details are in the node's log (500)."""
    code, status = "INTERNAL", 500


class SchemaVersionError(TroveError):
    """The data directory was written by an incompatible version (500)."""
    code, status = "SCHEMA_VERSION", 500


class PackDamagedError(TroveError):
    """A pack file of small blobs is damaged; ``trove verify`` repairs it (500)."""
    code, status = "PACK_DAMAGED", 500


class AddressInUseError(TroveError):
    """A listen address (network or API) is taken by another process (500)."""
    code, status = "ADDRESS_IN_USE", 500


class TroveNotImplementedError(TroveError, builtins.NotImplementedError):
    """The node lacks the feature (the API's NOT_IMPLEMENTED, 501)."""
    code, status = "NOT_IMPLEMENTED", 501


class HashMismatchError(TroveError):
    """Bytes that do not hash to what they should: from a peer (the node's 502), or bytes this
    client received or sent whose sha1 is not the blob's."""
    code, status = "HASH_MISMATCH", 502


class TransferFailedError(TroveError):
    """Peers were found but every one failed to deliver the blob (502)."""
    code, status = "TRANSFER_FAILED", 502


class ProtocolError(TroveError):
    """A peer broke a wire protocol's rules (502)."""
    code, status = "PROTOCOL_ERROR", 502


class PeerUnreachableError(TroveError, builtins.ConnectionError):
    """A peer given to connect to (``POST /peers``) could not be reached (502)."""
    code, status = "PEER_UNREACHABLE", 502


class ApiUnavailableError(TroveError, builtins.ConnectionError):
    """The node's API cannot serve the request: it is shutting down (503), or it could not be
    reached or stopped answering (see the subclasses)."""
    code = "API_UNAVAILABLE"
    status: Optional[int] = 503


class PeerTimeoutError(TroveError, builtins.TimeoutError):
    """A peer did not answer in time (504)."""
    code, status = "PEER_TIMEOUT", 504


class StorageFullError(TroveError, OSError):
    """The disk or the node's size limit has no room for the write (507)."""
    code, status = "STORAGE_FULL", 507


class StorageFailedError(TroveError, OSError):
    """The node's database failed a write (not a full disk); writes wait for its reopen (503)."""
    code, status = "STORAGE_FAILED", 503


# --- failures on this side of the connection ---------------------------------------------------

class NodeNotRunningError(ApiUnavailableError):
    """No node runs on the data directory, or nothing answers at its address."""
    code, status = "NODE_NOT_RUNNING", None


class ConnectionLostError(ApiUnavailableError):
    """The connection to the node broke or stalled in the middle of a request (the node stopped,
    crashed or hung). Nothing partial is left behind by the call that raised it."""
    code, status = "CONNECTION_LOST", None


class MissingDependencyError(TroveError, ImportError):
    """An optional dependency of the call is not installed (numpy for the npy functions)."""
    code, status = "MISSING_DEPENDENCY", None


class NodeStartError(TroveError):
    """``connect(start=True)`` could not start a node; the message quotes its log."""
    code, status = "NODE_START_FAILED", None


#: Every class the node may answer, by code. Built from the classes so nothing is listed twice.
_BY_CODE: Dict[str, Type[TroveError]] = {
    cls.code: cls for cls in [
        InvalidArgumentError, InvalidJsonError, InvalidUriError, InvalidKeyError, TroveFileNotFoundError, TroveFileNotReadableError, TroveFileNotWritableError,
        InvalidDirEntryError, InvalidDirManifestError, DataDirMissingError, UnauthorizedError, ForbiddenHostError, ForbiddenOriginError, NotFoundError, BlobNotFoundError,
        NoProvidersError, RefNotFoundError, VersionNotFoundError, TroveIsADirectoryError, DirPathNotFoundError, DataDirLockedError, RefNotObjectError, TroveFileExistsError, PayloadTooLargeError,
        UnsupportedMediaTypeError, RangeNotSatisfiableError, AbortError, InternalError, SchemaVersionError,
        PackDamagedError, AddressInUseError, TroveNotImplementedError, HashMismatchError, TransferFailedError,
        ProtocolError, PeerUnreachableError, ApiUnavailableError, PeerTimeoutError, StorageFullError,
        StorageFailedError,
    ]
}


def error_class(code: str) -> Optional[Type[TroveError]]:
    """The exception class for an API error code, or None when this client does not know it."""
    return _BY_CODE.get(code)


def error_codes() -> Dict[str, Type[TroveError]]:
    """Every API error code this client maps, with its class."""
    return dict(_BY_CODE)


def error_from_answer(body: Any, status: int) -> TroveError:
    """The exception an error answer describes: its code's class, or TroveError for a new code."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        if status == 503:
            return ApiUnavailableError("the Trove node is shutting down")
        return InternalError(f"the Trove API answered HTTP {status} without an error description")
    code: str = err["code"]
    message = err["message"] if isinstance(err.get("message"), str) else code
    name = err["name"] if isinstance(err.get("name"), str) else None
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, status=status, name=name)
    return TroveError(message, code=code, status=status, name=name)


def error_from_status(status: int) -> TroveError:
    """HEAD answers have no body: the likely error for a status alone (as the TypeScript client)."""
    guess = {400: InvalidUriError, 401: UnauthorizedError, 403: ForbiddenHostError, 404: BlobNotFoundError,
             416: RangeNotSatisfiableError, 503: ApiUnavailableError}.get(status, InternalError)
    return guess(f"the Trove API answered HTTP {status}", status=status)
