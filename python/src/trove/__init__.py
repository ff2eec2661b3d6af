"""Python client of a running Trove node: share files and named refs between lab machines.

    import trove
    uri = trove.store_file("spikes.npy", ref="lab/mouse7/spikes")   # on one machine
    path = trove.load_file(uri)                                     # on another

Module-level functions act on the default node: the client of the last :func:`connect`, or, when
there was none, the node found as the CLI finds it (``$TROVE_DATA``, else ``~/.trove``). Every
function is also a method of :class:`Client`. See docs/python.md.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .client import Client, cache_dir, connect, default_client
from .errors import (
    AbortError,
    AddressInUseError,
    ApiUnavailableError,
    BlobNotFoundError,
    ConnectionLostError,
    DataDirLockedError,
    DirPathNotFoundError,
    InvalidDirManifestError,
    TroveIsADirectoryError,
    TroveFileNotWritableError,
    RefNotObjectError,
    TroveFileExistsError,
    DataDirMissingError,
    ForbiddenHostError,
    ForbiddenOriginError,
    HashMismatchError,
    InternalError,
    InvalidArgumentError,
    InvalidDirEntryError,
    InvalidDirManifestError,
    InvalidJsonError,
    InvalidKeyError,
    InvalidUriError,
    MissingDependencyError,
    NodeNotRunningError,
    NodeStartError,
    NoProvidersError,
    NotFoundError,
    PackDamagedError,
    PayloadTooLargeError,
    PeerTimeoutError,
    PeerUnreachableError,
    ProtocolError,
    RangeNotSatisfiableError,
    RefNotFoundError,
    SchemaVersionError,
    StorageFailedError,
    StorageFullError,
    TransferFailedError,
    TroveError,
    TroveFileNotFoundError,
    TroveFileNotReadableError,
    TroveFileNotWritableError,
    TroveNotImplementedError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    VersionNotFoundError,
    error_class,
)
from .uri import ParsedDirUri, ParsedUri, check_key, format_dir_uri, format_uri, parse_dir_uri, parse_uri, to_sha1

__version__ = "0.1.0"

PathLike = Union[str, "os.PathLike[str]"]


def set_ref(key: str, obj: Any, meta: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    return default_client().set_ref(key, obj, meta)


def get_ref(key: str, version: Optional[int] = None) -> Tuple[Any, Dict[str, Any]]:
    return default_client().get_ref(key, version)


def get_ref_record(key: str, version: Optional[int] = None) -> Dict[str, Any]:
    return default_client().get_ref_record(key, version)


def del_ref(key: str) -> Dict[str, Any]:
    return default_client().del_ref(key)


def get_ref_keys(query: Union[None, str, Mapping[str, Any]] = None, *, prefix: Optional[str] = None,
                 refs_to: Optional[str] = None, meta: Optional[Mapping[str, Any]] = None) -> List[str]:
    return default_client().get_ref_keys(query, prefix=prefix, refs_to=refs_to, meta=meta)


def list_refs(query: Union[None, str, Mapping[str, Any]] = None, *, prefix: Optional[str] = None,
              refs_to: Optional[str] = None, meta: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    return default_client().list_refs(query, prefix=prefix, refs_to=refs_to, meta=meta)


def ref_history(key: str) -> List[Dict[str, Any]]:
    return default_client().ref_history(key)


def store_file(path: PathLike, ref: Optional[str] = None, pin: bool = False, **kwargs: Any) -> str:
    return default_client().store_file(path, ref, pin, **kwargs)


def store_bytes(data: bytes, **kwargs: Any) -> str:
    return default_client().store_bytes(data, **kwargs)


def store_text(text: str, **kwargs: Any) -> str:
    return default_client().store_text(text, **kwargs)


def store_json(obj: Any, **kwargs: Any) -> str:
    return default_client().store_json(obj, **kwargs)


def store_npy(array: Any, **kwargs: Any) -> str:
    return default_client().store_npy(array, **kwargs)


def store_pkl(obj: Any, **kwargs: Any) -> str:
    return default_client().store_pkl(obj, **kwargs)


def load_file(uri: str, dest: Optional[PathLike] = None, **kwargs: Any) -> str:
    return default_client().load_file(uri, dest, **kwargs)


def load_bytes(uri: str, start: int = 0, end: Optional[int] = None) -> bytes:
    return default_client().load_bytes(uri, start, end)


def load_text(uri: str, encoding: str = "utf-8") -> str:
    return default_client().load_text(uri, encoding)


def load_json(uri: str) -> Any:
    return default_client().load_json(uri)


def load_npy(uri: str) -> Any:
    return default_client().load_npy(uri)


def load_pkl(uri: str) -> Any:
    return default_client().load_pkl(uri)


def load_file_info(uri: str) -> Dict[str, Any]:
    return default_client().load_file_info(uri)


def blob_size(uri: str) -> int:
    return default_client().blob_size(uri)


def fetch(uris: Iterable[str], timeout: Optional[float] = None) -> Dict[str, Any]:
    return default_client().fetch(uris, timeout)


def pin(uri: str) -> Dict[str, Any]:
    return default_client().pin(uri)


def unpin(uri: str) -> Dict[str, Any]:
    return default_client().unpin(uri)


def pins() -> List[Dict[str, Any]]:
    return default_client().pins()


def why(uri: str) -> Dict[str, Any]:
    return default_client().why(uri)


def gc(dry_run: bool = True) -> Dict[str, Any]:
    return default_client().gc(dry_run)


def status() -> Dict[str, Any]:
    return default_client().status()


def peers() -> List[Dict[str, Any]]:
    return default_client().peers()


def transfers() -> List[Dict[str, Any]]:
    return default_client().transfers()


def verify() -> Dict[str, Any]:
    return default_client().verify()


def store_dir(path: PathLike, **kwargs: Any) -> str:
    return default_client().store_dir(path, **kwargs)


def list_dir(uri: str) -> List[Dict[str, Any]]:
    return default_client().list_dir(uri)


def load_dir(uri: str, dest: Optional[PathLike] = None, **kwargs: Any) -> str:
    return default_client().load_dir(uri, dest, **kwargs)


#: The module-level functions: each calls the method of the same name on the default client.
_DELEGATES = [
    set_ref, get_ref, get_ref_record, del_ref, get_ref_keys, list_refs, ref_history,
    store_file, store_bytes, store_text, store_json, store_npy, store_pkl,
    load_file, load_bytes, load_text, load_json, load_npy, load_pkl, load_file_info, blob_size, fetch,
    pin, unpin, pins, why, gc, status, peers, transfers, verify,
    store_dir, list_dir, load_dir,
]
for _f in _DELEGATES:
    _f.__doc__ = f"{getattr(Client, _f.__name__).__doc__}\n\n(On the default node: see :func:`trove.default_client`.)"
del _f

__all__ = [
    "Client", "connect", "default_client", "cache_dir", "ParsedUri", "parse_uri", "format_uri", "to_sha1", "ParsedDirUri", "parse_dir_uri", "format_dir_uri", "check_key",
    "error_class", *[f.__name__ for f in _DELEGATES],
    "TroveError", "AbortError", "AddressInUseError", "ApiUnavailableError", "BlobNotFoundError", "ConnectionLostError",
    "DataDirLockedError", "DirPathNotFoundError", "RefNotObjectError", "TroveFileExistsError", "TroveIsADirectoryError", "DataDirMissingError", "ForbiddenHostError", "ForbiddenOriginError", "HashMismatchError", "InternalError",
    "InvalidArgumentError", "InvalidDirEntryError", "InvalidDirManifestError", "InvalidJsonError", "InvalidKeyError", "InvalidUriError", "MissingDependencyError",
    "NodeNotRunningError", "NodeStartError", "NoProvidersError", "NotFoundError", "PackDamagedError",
    "PayloadTooLargeError", "PeerTimeoutError", "PeerUnreachableError", "ProtocolError", "RangeNotSatisfiableError",
    "RefNotFoundError", "SchemaVersionError", "StorageFailedError", "StorageFullError", "TransferFailedError", "TroveFileNotFoundError",
    "TroveFileNotReadableError", "TroveFileNotWritableError",
    "TroveNotImplementedError", "UnauthorizedError", "UnsupportedMediaTypeError", "VersionNotFoundError",
]
