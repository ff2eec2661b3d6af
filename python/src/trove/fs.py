"""An fsspec filesystem for ``sha1://`` URIs, so anything that reads through fsspec reads blobs
lazily, in byte ranges: ``fsspec.open("sha1://...")``, ``pandas.read_csv("sha1://.../data.csv")``,
``h5py.File(fsspec.open("sha1://...").open())``, xarray, zarr.

Installing the package registers it for the ``sha1`` protocol (the ``fsspec.specs`` entry
point); :func:`register` does the same by hand. Storage options ``data_dir``, ``url`` and
``token`` choose the node as :func:`trove.connect` does; without them the default node is used.
Blobs are content-addressed and therefore read-only.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from fsspec import register_implementation  # type: ignore[import-untyped,unused-ignore]
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem  # type: ignore[import-untyped,unused-ignore]

from .client import Client, connect, default_client
from .errors import BlobNotFoundError, NoProvidersError, RangeNotSatisfiableError, TroveNotImplementedError
from .uri import SCHEME, parse_uri


class TroveFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """Blobs of a Trove node as read-only files named ``sha1://<hash>[/<name>]``."""

    protocol = "sha1"
    root_marker = ""

    def __init__(self, client: Optional[Client] = None, data_dir: Optional[str] = None, url: Optional[str] = None,
                 token: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._client = client
        self._data_dir, self._url, self._token = data_dir, url, token
        self._sizes: Dict[str, int] = {}

    @property
    def client(self) -> Client:
        if self._client is not None:
            return self._client
        if (self._data_dir, self._url, self._token) != (None, None, None):
            self._client = connect(self._data_dir, self._url, self._token, set_default=False)
            return self._client
        # looked up on every use: fsspec keeps filesystem instances, the default node may change
        return default_client()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith(SCHEME):
            path = path[len(SCHEME):]
        return path.rstrip("/")

    def _sha1(self, path: str) -> str:
        """The hash a path names, checked like every URI (InvalidUriError)."""
        return parse_uri(SCHEME + self._strip_protocol(path)).sha1

    def size_of(self, path: str) -> int:
        sha1 = self._sha1(path)
        if sha1 not in self._sizes:
            self._sizes[sha1] = self.client.blob_size(sha1)
        return self._sizes[sha1]

    def info(self, path: str, **kwargs: Any) -> Dict[str, Any]:
        name = self._strip_protocol(path)
        try:
            size = self.size_of(name)
        except (BlobNotFoundError, NoProvidersError) as err:
            raise FileNotFoundError(f"{SCHEME}{name}: {err}") from err
        return {"name": name, "size": size, "type": "file", "sha1": self._sha1(name)}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Union[List[Dict[str, Any]], List[str]]:
        info = self.info(path)
        return [info] if detail else [info["name"]]

    def ukey(self, path: str) -> str:
        # the content never changes under its name: the hash identifies it for every cache
        return self._sha1(path)

    def cat_file(self, path: str, start: Optional[int] = None, end: Optional[int] = None, **kwargs: Any) -> bytes:
        sha1 = self._sha1(path)
        start = 0 if start is None else start
        if start < 0 or (end is not None and end < 0):
            # fsspec's negative positions count from the end, as in a slice
            size = self.size_of(path)
            start = max(0, size + start) if start < 0 else start
            end = max(0, size + end) if end is not None and end < 0 else end
        if end is not None and end <= start:
            return b""
        try:
            return self.client.load_bytes(sha1, start, end)
        except RangeNotSatisfiableError:
            return b""  # past the end, as a slice

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, autocommit: bool = True,
              cache_options: Optional[Dict[str, Any]] = None, **kwargs: Any) -> "TroveFile":
        if mode != "rb":
            raise TroveNotImplementedError(f"{SCHEME} files are read-only (content-addressed); store new content with trove.store_file")
        return TroveFile(self, path, mode, block_size=block_size if block_size is not None else "default",
                         cache_options=cache_options, size=self.size_of(path), **kwargs)

    def _rm(self, path: str) -> None:
        raise TroveNotImplementedError(f"{SCHEME} files are read-only; remove the refs that keep a blob instead")


class TroveFile(AbstractBufferedFile):  # type: ignore[misc]
    """One blob, read in byte ranges on demand (an HTTP Range request per block)."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        if end <= start or start >= self.size:
            return b""
        data: bytes = self.fs.client.load_bytes(self.fs._sha1(self.path), start, min(end, self.size))
        return data


def register(clobber: bool = True) -> None:
    """Registers :class:`TroveFileSystem` for ``sha1://`` with fsspec (the package's entry point
    does this already when it is installed)."""
    register_implementation("sha1", TroveFileSystem, clobber=clobber)
