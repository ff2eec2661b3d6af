"""The client of a running Trove node: refs, blobs, space and the node's state, over its HTTP API
(docs/http-api.md). Every method checks what it can locally first (URIs, keys, JSON, files), so
bad input fails before any request with the node's own error codes."""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import secrets
import stat
import tempfile
from urllib.parse import quote
from typing import Any, BinaryIO, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _node
from ._http import Transport, dumps, ref_route
from ._streams import ParallelSha1, Progress, ProgressArg, TransferWatch, VerifyingReader, file_chunks, finish
from .constants import DEFAULT_TIMEOUT_S, DISCOVERY_TIMEOUT_S, IO_CHUNK_SIZE, LIST_PAGE, MAX_NAME_LENGTH, START_TIMEOUT_S
from .errors import (
    ConnectionLostError,
    HashMismatchError,
    InvalidArgumentError,
    InvalidJsonError,
    MissingDependencyError,
    NodeNotRunningError,
    TroveError,
    TroveFileNotFoundError,
    error_from_answer,
)
from .uri import _URI_COMPONENT_SAFE, check_key, check_prefix, find_references, parse_dir_uri, parse_uri, to_sha1

PathLike = Union[str, "os.PathLike[str]"]
#: The media type of answers that stream progress lines, then the result (src/api/constants.ts NDJSON).
NDJSON = "application/x-ndjson"
JSON = Any

#: Environment variable naming the directory ``load_file`` keeps files in when no ``dest`` is given.
CACHE_ENV = "TROVE_CACHE"


def cache_dir() -> str:
    """Where ``load_file(uri)`` without ``dest`` puts files: ``$TROVE_CACHE``, else
    ``$XDG_CACHE_HOME/trove``, else ``~/.cache/trove``. Anything in it may be deleted at any time."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "trove")


class Client:
    """A connection to one running node. Make one with :func:`trove.connect`.

    Thread-safe: calls from several threads share a small pool of keep-alive connections.
    """

    def __init__(self, url: str, token: Optional[str] = None, *, data_dir: Optional[str] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT_S, author: Optional[str] = None,
                 _token_file: Optional[str] = None) -> None:
        token_file = _token_file or (_node.token_path(data_dir) if data_dir else None)
        hint = ""
        if token is None:
            hint = f": none was given and {token_file} could not be read" if token_file else ": pass token="
        start_hint = _node.start_hint(data_dir)
        self._http = Transport(url, token, timeout=timeout, author=author, token_hint=hint, start_hint=start_hint)
        #: The node's API base URL, e.g. ``http://127.0.0.1:4738``.
        self.url: str = self._http.url
        #: The data directory the node was found through, when it was.
        self.data_dir: Optional[str] = data_dir

    def __repr__(self) -> str:
        return f"trove.Client({self.url!r}" + (f", data_dir={self.data_dir!r})" if self.data_dir else ")")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the idle connections. The client stays usable (it reconnects on the next call)."""
        self._http.close()

    # --- refs -----------------------------------------------------------------------------

    def set_ref(self, key: str, obj: JSON, meta: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Sets ``key`` to ``obj`` (any JSON; every ``sha1://`` string in it keeps that blob) with
        ``meta`` (``priority``, ``pin``, ``expires``, ``ttl`` and any fields of your own). Every
        set makes a new version. Returns the ref as stored (``key``, ``version``, ``obj``, ``meta``,
        ``setAt``, ``by``)."""
        check_key(key)
        if meta is not None and not isinstance(meta, Mapping):
            raise InvalidArgumentError(f"meta must be a dict or None, got {type(meta).__name__}")
        find_references(obj)
        body = {"obj": obj, "meta": dict(meta) if meta is not None else {}}
        return self._http.json("PUT", ref_route(key), json=body)  # type: ignore[no-any-return]

    def get_ref(self, key: str, version: Optional[int] = None) -> Tuple[JSON, Dict[str, Any]]:
        """``(obj, meta)`` of the ref's latest version, or of ``version``."""
        record = self.get_ref_record(key, version)
        return record["obj"], record.get("meta") or {}

    def get_ref_record(self, key: str, version: Optional[int] = None) -> Dict[str, Any]:
        """The whole ref: ``key``, ``version``, ``obj``, ``meta``, ``setAt``, ``by``."""
        check_key(key)
        query = None
        if version is not None:
            if not _is_int(version) or version < 1:
                raise InvalidArgumentError(f"version must be an integer of 1 or more, got {version!r}")
            query = {"version": str(version)}
        return self._http.json("GET", ref_route(key), query=query)  # type: ignore[no-any-return]

    def del_ref(self, key: str) -> Dict[str, Any]:
        """Removes the ref (its history is kept). Returns ``{"key", "version"}``, the version that
        records the removal."""
        check_key(key)
        return self._http.json("DELETE", ref_route(key))  # type: ignore[no-any-return]

    def ref_history(self, key: str) -> List[Dict[str, Any]]:
        """Every version of the ref, oldest first; a removal has ``"deleted": True``."""
        check_key(key)
        return self._http.json("GET", ref_route(key) + "/history")["history"]  # type: ignore[no-any-return]

    def list_refs(self, query: Union[None, str, Mapping[str, Any]] = None, *, prefix: Optional[str] = None,
                  refs_to: Optional[str] = None, meta: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        """The refs matching a query (see :meth:`get_ref_keys`), as whole refs, in key order."""
        q = _ref_query(query, prefix, refs_to, meta)
        refs: List[Dict[str, Any]] = []
        while True:
            page = self._http.json("GET", "/refs", query=q)
            refs.extend(page["refs"])
            cursor = page.get("cursor")
            if not cursor:
                return refs
            q["cursor"] = cursor

    def get_ref_keys(self, query: Union[None, str, Mapping[str, Any]] = None, *, prefix: Optional[str] = None,
                     refs_to: Optional[str] = None, meta: Optional[Mapping[str, Any]] = None) -> List[str]:
        """Keys of the refs matching every condition given, in key order; no condition: all keys.

        ``query`` is a prefix (``"lab/mouse7/"``) or a dict with any of ``prefix``, ``refs_to``
        (a ``sha1://`` URI or hash: only refs referencing that blob) and ``meta`` (a dict of exact
        meta values, e.g. ``{"priority": 5}``); the same conditions can be given as keywords.
        """
        return [r["key"] for r in self.list_refs(query, prefix=prefix, refs_to=refs_to, meta=meta)]

    # --- blobs in ---------------------------------------------------------------------------

    def store_file(self, path: PathLike, ref: Optional[str] = None, pin: bool = False, *, name: Optional[str] = None,
                   meta: Optional[Mapping[str, Any]] = None, progress: ProgressArg = None) -> str:
        """Stores a file and returns its URI, ``sha1://<hash>/<file name>``. The file is streamed,
        never read whole. ``ref`` records it under that key as ``{"<name>": "<uri>"}`` (with
        ``meta``); ``pin`` pins it. ``name`` replaces the file's own name in the URI."""
        p = os.fspath(path)
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            raise TroveFileNotFoundError(f"no such file: {p}") from None
        except IsADirectoryError:
            raise TroveFileNotFoundError(f"not a regular file: {p} is a directory (directories need store_dir, not available yet)") from None
        except OSError as err:
            raise TroveFileNotFoundError(f"cannot read {p}: {err.strerror}") from None
        with f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise TroveFileNotFoundError(f"not a regular file: {p}")
            return self._store(f, st.st_size, p, name=os.path.basename(p) if name is None else name,
                               ref=ref, pin=pin, meta=meta, progress=progress)

    def store_bytes(self, data: Union[bytes, bytearray, memoryview], *, name: Optional[str] = None, ref: Optional[str] = None,
                    pin: bool = False, meta: Optional[Mapping[str, Any]] = None) -> str:
        """Stores bytes and returns the URI (with ``name`` in it, when given)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"store_bytes takes bytes, got {type(data).__name__}")
        view = memoryview(data).cast("B")
        return self._store(io.BytesIO(view), len(view), "the bytes", name=name, ref=ref, pin=pin, meta=meta, progress=False)

    def store_text(self, text: str, *, name: Optional[str] = None, ref: Optional[str] = None, pin: bool = False,
                   meta: Optional[Mapping[str, Any]] = None) -> str:
        """Stores a string as UTF-8 and returns the URI."""
        if not isinstance(text, str):
            raise InvalidArgumentError(f"store_text takes a str, got {type(text).__name__}")
        return self.store_bytes(text.encode("utf-8"), name=name, ref=ref, pin=pin, meta=meta)

    def store_json(self, obj: JSON, *, name: Optional[str] = None, ref: Optional[str] = None, pin: bool = False,
                   meta: Optional[Mapping[str, Any]] = None) -> str:
        """Stores a value as JSON and returns the URI. Keys are sorted and nothing is indented, so
        equal values give equal bytes and the same URI."""
        try:
            text = json.dumps(obj, allow_nan=False, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError) as err:
            raise InvalidJsonError(f"store_json: the value cannot be stored as JSON: {err}") from None
        return self.store_bytes(text.encode("utf-8"), name=name, ref=ref, pin=pin, meta=meta)

    def store_npy(self, array: Any, *, name: Optional[str] = None, ref: Optional[str] = None, pin: bool = False,
                  meta: Optional[Mapping[str, Any]] = None) -> str:
        """Stores a numpy array in ``.npy`` format (without pickle) and returns the URI. The array
        is written to an unnamed temp file and streamed from there, so memory use stays flat."""
        np = _numpy()
        with tempfile.TemporaryFile() as f:
            try:
                np.save(f, np.asanyarray(array), allow_pickle=False)
            except ValueError as err:
                raise InvalidArgumentError(f"store_npy: {err} (object arrays need store_pkl)") from None
            size = f.tell()
            f.seek(0)
            return self._store(f, size, "the array", name=name, ref=ref, pin=pin, meta=meta, progress=False)

    def store_pkl(self, obj: Any, *, name: Optional[str] = None, ref: Optional[str] = None, pin: bool = False,
                  meta: Optional[Mapping[str, Any]] = None) -> str:
        """Stores any picklable object and returns the URI. Loading a pickle runs code: only
        :meth:`load_pkl` what you trust (docs/python.md)."""
        with tempfile.TemporaryFile() as f:
            try:
                pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as err:
                raise InvalidArgumentError(f"store_pkl: the object cannot be pickled: {err}") from None
            size = f.tell()
            f.seek(0)
            return self._store(f, size, "the pickle", name=name, ref=ref, pin=pin, meta=meta, progress=False)

    def _store(self, f: BinaryIO, size: int, what: str, *, name: Optional[str], ref: Optional[str], pin: bool,
               meta: Optional[Mapping[str, Any]], progress: ProgressArg) -> str:
        query: Dict[str, str] = {}
        if name:
            if len(name) > MAX_NAME_LENGTH or "/" in name:
                raise InvalidArgumentError(f'name must be a file name (no "/", at most {MAX_NAME_LENGTH} characters): {name!r}')
            query["name"] = name
        if pin:
            query["pin"] = "1"
        if ref is not None:
            query["ref"] = check_key(ref)
            if meta is not None:
                query["meta"] = dumps(dict(meta))
        elif meta is not None:
            raise InvalidArgumentError("meta is the meta of the ref: give ref= with it")
        bar = Progress(progress)
        bar.restart(size, "storing")
        with ParallelSha1() as sha:
            try:
                answer = self._http.json("POST", "/blobs", query=query, body=file_chunks(f, size, what, sha, bar),
                                         headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
            finally:
                bar.close()
        if answer.get("sha1") != sha.hexdigest() or answer.get("size") != size:
            raise HashMismatchError(f"the node stored {what} as sha1://{answer.get('sha1')} ({answer.get('size')} bytes) "
                                    f"but this client sent sha1://{sha.hexdigest()} ({size} bytes)")
        return str(answer["uri"])

    # --- blobs out --------------------------------------------------------------------------

    def load_file(self, uri: str, dest: Optional[PathLike] = None, *, progress: ProgressArg = None) -> str:
        """Makes the blob available as a local file and returns its path. The node fetches it from
        its peers when it does not hold it.

        With ``dest`` (a file path, or an existing directory to put the blob's file name in) the
        file is written there, replacing what was there. Without it, the file goes to the cache
        directory (:func:`trove.cache_dir`), read-only, and later calls for the same URI return it
        at once. The bytes are streamed to a temp file beside the destination, their sha1 checked
        while they arrive, and the temp file renamed into place only when all is right: on any
        failure nothing is left at the destination.
        """
        parsed = parse_uri(uri) if isinstance(uri, str) and uri.startswith("sha1://") else None
        sha1 = parsed.sha1 if parsed else to_sha1(uri)
        file_name = (parsed.name if parsed else None) or sha1
        cached = dest is None
        if dest is None:
            target = os.path.join(cache_dir(), sha1, _safe_file_name(file_name, sha1))
            if os.path.isfile(target):
                return target
            os.makedirs(os.path.dirname(target), exist_ok=True)
        else:
            target = os.fspath(dest)
            if os.path.isdir(target):
                target = os.path.join(target, _safe_file_name(file_name, sha1))
            parent = os.path.dirname(os.path.abspath(target))
            if not os.path.isdir(parent):
                raise TroveFileNotFoundError(f"cannot write {target}: the directory {parent} does not exist")
        bar = Progress(progress)
        try:
            watch = TransferWatch(bar, sha1, self.transfers)
            try:
                res = self._http.request("GET", f"/blobs/{sha1}", stream=True, timeout=None)
            finally:
                watch.stop()
            complete = False
            try:
                size = _content_length(res)
                bar.restart(size, "loading")
                self._write_verified(res, sha1, size, target, bar, read_only=cached)
                complete = True
            finally:
                finish(res, complete)
        finally:
            bar.close()
        return target

    def _write_verified(self, res: Any, sha1: str, size: int, target: str, bar: Progress, read_only: bool) -> None:
        folder, base = os.path.split(os.path.abspath(target))
        tmp, fd = _create_beside(folder, base)
        done = False
        try:
            with os.fdopen(fd, "wb") as out, ParallelSha1() as sha:
                got = self._copy_answer(res, out, sha, bar)
            if got != size:
                raise ConnectionLostError(f"the Trove node at {self.url} stopped sending sha1://{sha1} after {got} of {size} "
                                          "bytes; did the node stop? Nothing was written")
            if sha.hexdigest() != sha1:
                raise HashMismatchError(f"the bytes received for sha1://{sha1} hash to {sha.hexdigest()}; nothing was written")
            if read_only:
                os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            done = True
        finally:
            if not done:
                _remove(tmp)

    def _copy_answer(self, res: Any, out: BinaryIO, sha: ParallelSha1, bar: Progress) -> int:
        """Writes an answer's body to ``out`` chunk by chunk, hashing it on the way; the count."""
        got = 0
        chunks = res.stream(IO_CHUNK_SIZE)
        while True:
            # only the answer's errors are the connection's; the file's (a full disk) stay OSErrors
            try:
                chunk = next(chunks, None)
            except Exception as err:  # noqa: BLE001 - the connection broke mid-answer
                raise self._http.transport_error(err) from err
            if chunk is None:
                return got
            out.write(chunk)
            sha.update(chunk)
            got += len(chunk)
            bar.add(len(chunk))

    # --- directories (docs/formats.md) -------------------------------------------------------

    def store_dir(self, path: PathLike, *, ref: Optional[str] = None, pin: bool = False,
                  meta: Optional[Mapping[str, Any]] = None, follow_symlinks: bool = False,
                  progress: ProgressArg = None) -> str:
        """Stores a folder and everything below it as one ``sha1dir://`` URI, which it returns.
        The node reads the folder from this machine's disk (the API is on loopback). With ``ref``
        the folder becomes a member of that ref's object (``meta`` is the ref's meta); ``pin``
        pins it. Symlinks are refused unless ``follow_symlinks`` (never out of the folder);
        sockets, FIFOs and devices are left out. Progress counts the folder's bytes."""
        folder = os.path.abspath(os.fspath(path))
        if not os.path.isdir(folder):
            raise TroveFileNotFoundError(f"not a directory: {os.fspath(path)}")
        body: Dict[str, Any] = {"path": folder}
        if pin:
            body["pin"] = True
        if follow_symlinks:
            body["followSymlinks"] = True
        if ref is not None:
            body["ref"] = check_key(ref)
            if meta is not None:
                body["meta"] = dict(meta)
        elif meta is not None:
            raise InvalidArgumentError("meta is the meta of the ref: give ref= with it")
        bar = Progress(progress)
        if bar.wanted or callable(progress):
            bar.restart(_tree_bytes(folder), "storing")
        try:
            result = self._lines("POST", "/dirs/import", body, lambda p: bar.set(int(p.get("bytes", 0))))
            # the node sends progress at most every 100 ms: the last of it may not have come
            bar.set(int(result.get("bytes", bar.done)))
        finally:
            bar.close()
        return str(result["uri"])

    def list_dir(self, uri: str) -> List[Dict[str, Any]]:
        """The entries of a directory (``sha1dir://<hash>[/sub/path]``) in name order: ``name``,
        ``kind`` (``file`` or ``dir``), ``sha1``, ``size`` (a folder's: all bytes below it),
        ``exec`` and ``local`` (stored on the node). The node fetches manifests it lacks from its
        peers. A URI naming a file gives that one entry."""
        route = self._dir_route(uri)
        entries: List[Dict[str, Any]] = []
        cursor: Optional[str] = None
        while True:
            page = self._http.json("GET", route, query={"list": "1", "cursor": cursor}, timeout=None)
            entries.extend(page.get("entries", []))
            cursor = page.get("next")
            if not cursor:
                return entries

    def load_dir(self, uri: str, dest: Optional[PathLike] = None, *, force: bool = False,
                 progress: ProgressArg = None) -> str:
        """Makes a directory (or a file or folder inside one) available locally and returns its
        path. The node fetches what it lacks from its peers, verifies every blob, and writes the
        tree into a temporary folder beside ``dest`` that is renamed into place when complete, so
        ``dest`` never holds half a tree. An existing ``dest`` is refused unless ``force``.
        Without ``dest`` the tree goes to the cache directory (:func:`trove.cache_dir`) and later
        calls for the same URI return it at once."""
        parsed = parse_dir_uri(uri)
        if dest is None:
            target = os.path.join(cache_dir(), "dirs", parsed.sha1, *parsed.path)
            if os.path.exists(target):
                return target
            os.makedirs(os.path.dirname(target), exist_ok=True)
        else:
            target = os.path.abspath(os.fspath(dest))
        body: Dict[str, Any] = {"dest": target}
        if force:
            body["force"] = True
        if parsed.path:
            body["path"] = "/".join(quote(s, safe=_URI_COMPONENT_SAFE) for s in parsed.path)
        bar = Progress(progress)
        phase = [""]

        def on_progress(p: Dict[str, Any]) -> None:
            name = str(p.get("phase", ""))
            writing = name == "write"
            if name != phase[0]:
                phase[0] = name
                bar.restart(int(p.get("totalBytes" if writing else "totalFiles", 0)), "writing" if writing else f"{name} (files)")
            bar.set(int(p.get("bytes" if writing else "files", 0)))
        try:
            result = self._lines("POST", f"/dirs/{parsed.sha1}/fetch", body, on_progress)
            if phase[0] == "write":
                bar.set(int(result.get("bytes", bar.done)))
        finally:
            bar.close()
        return target

    def _dir_route(self, uri: str) -> str:
        parsed = parse_dir_uri(uri)
        return f"/dirs/{parsed.sha1}" + "".join("/" + quote(s, safe=_URI_COMPONENT_SAFE) for s in parsed.path)

    def _lines(self, method: str, route: str, body: Dict[str, Any], on_progress: Any) -> Dict[str, Any]:
        """A call answered with progress lines and then its result (``application/x-ndjson``)."""
        res = self._http.request(method, route, json=body, headers={"Accept": NDJSON}, stream=True, timeout=None)
        complete = False
        try:
            buf = b""
            try:
                for chunk in res.stream(IO_CHUNK_SIZE):
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for raw in lines:
                        if not raw.strip():
                            continue
                        line = json.loads(raw)
                        if "progress" in line:
                            on_progress(line["progress"])
                        elif "result" in line:
                            complete = True
                            return line["result"]  # type: ignore[no-any-return]
                        else:
                            raise error_from_answer(line, 500)
            except TroveError:
                raise
            except ValueError:
                raise ConnectionLostError(f"the Trove node at {self.url} answered {method} {route} with a line that is not JSON") from None
            except Exception as err:  # noqa: BLE001 - the connection broke mid-answer
                raise self._http.transport_error(err) from err
            raise ConnectionLostError(f"the Trove node at {self.url} ended {method} {route} without an answer; did the node stop?")
        finally:
            finish(res, complete)

    def load_bytes(self, uri: str, start: int = 0, end: Optional[int] = None) -> bytes:
        """Bytes ``start`` up to (not including) ``end`` of the blob, like ``data[start:end]``;
        ``end=None`` reads to the end, an ``end`` past the end is shortened to it. A ``start`` at
        or past the end raises RangeNotSatisfiableError. Asks the node for that range only (HTTP
        Range)."""
        sha1 = to_sha1(uri)
        if not _is_int(start) or start < 0:
            raise InvalidArgumentError(f"start must be an integer of 0 or more, got {start!r}")
        if end is not None and (not _is_int(end) or end < start):
            raise InvalidArgumentError(f"end must be an integer not below start ({start}), or None; got {end!r}")
        if end == start:
            return b""
        last = "" if end is None else str(end - 1)
        res = self._http.request("GET", f"/blobs/{sha1}", headers={"Range": f"bytes={start}-{last}"}, timeout=None,
                                 expect=(200, 206), stream=True)
        complete = False
        try:
            try:
                data = res.read()
            except Exception as err:  # noqa: BLE001 - the connection broke mid-answer
                raise self._http.transport_error(err) from err
            expected = _content_length(res)
            if len(data) != expected:
                raise ConnectionLostError(f"the Trove node at {self.url} sent {len(data)} of {expected} bytes of a range of sha1://{sha1}")
            complete = True
        finally:
            finish(res, complete)
        if res.status == 200:
            # a node that ignored the Range header sent everything
            return bytes(data[start:end])
        return bytes(data)

    def blob_size(self, uri: str) -> int:
        """The blob's size in bytes, without fetching it: the node's stored size, else the size its
        peers claim (it looks for them as a load does; NoProvidersError when none answers)."""
        return _content_length(self._http.request("HEAD", f"/blobs/{to_sha1(uri)}", timeout=None))

    def open(self, uri: str) -> VerifyingReader:
        """The blob as a read-only file object that streams from the node and checks the sha1
        when the end is read (a mismatch raises there). Close it, or use it in a ``with``."""
        sha1 = to_sha1(uri)
        res = self._http.request("GET", f"/blobs/{sha1}", stream=True, timeout=None)
        return VerifyingReader(res, sha1, _content_length(res), self.url, self._http.transport_error)

    def load_text(self, uri: str, encoding: str = "utf-8") -> str:
        """The blob decoded as text."""
        with self.open(uri) as r:
            return r.read().decode(encoding)

    def load_json(self, uri: str) -> JSON:
        """The blob parsed as JSON."""
        with self.open(uri) as r:
            data = r.read()
        try:
            return json.loads(data)
        except ValueError as err:
            raise InvalidJsonError(f"sha1://{to_sha1(uri)} is not JSON: {err}") from None

    def load_npy(self, uri: str) -> Any:
        """The blob read as a numpy ``.npy`` array (no pickled objects). The array is read straight
        from the answer into its own memory, without a second copy."""
        np = _numpy()
        with self.open(uri) as r:
            try:
                array = np.lib.format.read_array(r, allow_pickle=False)
            except TroveError:
                raise
            except ValueError as err:
                raise InvalidArgumentError(f"sha1://{to_sha1(uri)} is not a .npy array without pickled objects: {err}") from None
            r.verify_end()
        return array

    def load_pkl(self, uri: str) -> Any:
        """The blob unpickled. **Unpickling runs code from the blob**: only load what you trust. The
        bytes are checked against the sha1 before anything is unpickled."""
        with self.open(uri) as r, tempfile.TemporaryFile() as f:
            while True:
                chunk = r.read(IO_CHUNK_SIZE)
                if not chunk:
                    break
                f.write(chunk)
            f.seek(0)
            return pickle.load(f)

    def load_file_info(self, uri: str) -> Dict[str, Any]:
        """What the node knows of a blob, without fetching it: ``size`` (the stored size, else the
        size its providers claim; None when no one is known to hold it), ``local``, ``providers``
        (peer ids holding it: those that answered, for a blob not stored here), and what keeps it
        here: ``pinned``, ``kept``, ``priority`` and ``reasons`` (the pins and refs)."""
        sha1 = to_sha1(uri)
        info = self._http.json("GET", f"/blobs/{sha1}/info", timeout=None)
        why = self.why(sha1)
        return {"uri": why.get("uri"), "sha1": sha1, "size": info.get("size"), "local": info.get("local"),
                "providers": info.get("providers", []), "pinned": why.get("pinned"), "kept": why.get("kept"),
                "priority": why.get("priority"), "reasons": why.get("reasons", [])}

    def fetch(self, uris: Iterable[str], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Makes many blobs local on the node (from its peers). Returns ``{"fetched", "local",
        "failed": [{"sha1", "code", "message"}]}``: failures are listed per blob, not raised."""
        body: Dict[str, Any] = {"uris": [to_sha1(u) for u in uris]}
        if timeout is not None:
            if not isinstance(timeout, (int, float)) or timeout <= 0:
                raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
            body["timeoutMs"] = max(1, int(timeout * 1000))
        return self._http.json("POST", "/fetch", json=body, timeout=None)  # type: ignore[no-any-return]

    # --- space and the node -----------------------------------------------------------------

    def pin(self, uri: str) -> Dict[str, Any]:
        """Pins a blob stored on the node: it is never evicted. Returns the pin record."""
        return self._http.json("PUT", f"/pins/{to_sha1(uri)}")  # type: ignore[no-any-return]

    def unpin(self, uri: str) -> Dict[str, Any]:
        """Removes the pin. Returns ``{"sha1", "unpinned"}`` (False when it was not pinned)."""
        return self._http.json("DELETE", f"/pins/{to_sha1(uri)}")  # type: ignore[no-any-return]

    def pins(self) -> List[Dict[str, Any]]:
        """Every pin."""
        return self._http.json("GET", "/pins")["pins"]  # type: ignore[no-any-return]

    def why(self, uri: str) -> Dict[str, Any]:
        """Which refs and pins keep a blob (the node's report, as ``trove why``)."""
        return self._http.json("GET", f"/why/{to_sha1(uri)}")  # type: ignore[no-any-return]

    def gc(self, dry_run: bool = True) -> Dict[str, Any]:
        """Evicts down to the low watermark, or with ``dry_run`` (the default) only reports what
        would go and why."""
        if not isinstance(dry_run, bool):
            raise InvalidArgumentError(f"dry_run must be True or False, got {dry_run!r}")
        return self._http.json("POST", "/gc", json={"dryRun": dry_run}, timeout=None)  # type: ignore[no-any-return]

    def status(self) -> Dict[str, Any]:
        """The node's state: version, data directory, usage, counts, network, API URL."""
        return self._http.json("GET", "/status")  # type: ignore[no-any-return]

    def peers(self) -> List[Dict[str, Any]]:
        """The connected peers."""
        return self._http.json("GET", "/peers")["peers"]  # type: ignore[no-any-return]

    def transfers(self) -> List[Dict[str, Any]]:
        """Downloads from peers in progress."""
        return self._http.json("GET", "/transfers")["transfers"]  # type: ignore[no-any-return]

    def verify(self) -> Dict[str, Any]:
        """Re-hashes the whole store and quarantines anything corrupt; takes as long as reading it."""
        return self._http.json("POST", "/verify", timeout=None)  # type: ignore[no-any-return]


def connect(data_dir: Optional[PathLike] = None, url: Optional[str] = None, token: Optional[str] = None,
            start: bool = False, *, timeout: Optional[float] = DEFAULT_TIMEOUT_S,
            start_timeout: float = START_TIMEOUT_S, set_default: bool = True) -> Client:
    """A client of a running node, which also becomes the default of the module-level functions.

    The node is found as the CLI finds it: the data directory is ``data_dir``, else
    ``$TROVE_DATA``, else ``~/.trove``; its ``api.json`` names the running node's URL and its
    ``api-token`` holds the token for writes. ``url`` (and ``token``) name a node directly instead.
    With no node running, ``start=True`` runs ``trove start`` on the data directory in the
    background (``trove init`` first if needed), waits until it answers and leaves it running;
    without it, NodeNotRunningError says how to start one. ``timeout`` is the longest wait, in
    seconds, for a JSON answer (None: no limit); blob transfers are never cut by it.
    ``set_default=False`` leaves the module-level functions' node as it was.
    """
    if url is not None:
        if start:
            raise InvalidArgumentError("start=True starts the node of a data directory: give data_dir, not url")
        d = _node.resolve_data_dir(data_dir)
        client = Client(url, token if token is not None else _node.read_token(d), timeout=timeout,
                        data_dir=d if data_dir is not None else None, _token_file=_node.token_path(d))
        _probe(client.url, data_dir=d if data_dir is not None else None)
    else:
        d = _node.resolve_data_dir(data_dir)
        try:
            found = _node.discover(d)
            _probe(found, data_dir=d)
        except TroveError as err:
            if not start or not isinstance(err, NodeNotRunningError):
                raise
            found = _node.start_node(d, lambda u: _probe(u, data_dir=d), timeout=start_timeout)
        client = Client(found, token if token is not None else _node.read_token(d), data_dir=d, timeout=timeout)
    if set_default:
        _set_default(client)
    return client


def _probe(url: str, data_dir: Optional[str]) -> None:
    """``GET /status`` within the CLI's discovery timeout, answering for this data directory."""
    hint = _node.start_hint(data_dir)
    t = Transport(url, None, timeout=DISCOVERY_TIMEOUT_S, start_hint=hint)
    try:
        _node.check_status(t.json("GET", "/status"), data_dir, t.url)
    finally:
        t.close()


_default: Optional[Client] = None


def _set_default(client: Client) -> None:
    global _default
    _default = client


def default_client() -> Client:
    """The client module-level functions use: the last :func:`connect`'s, else ``connect()``."""
    return _default if _default is not None else connect()


# --- helpers --------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ref_query(query: Union[None, str, Mapping[str, Any]], prefix: Optional[str], refs_to: Optional[str],
               meta: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    conditions: Dict[str, Any] = {}
    if isinstance(query, str):
        conditions["prefix"] = query
    elif isinstance(query, Mapping):
        unknown = set(query) - {"prefix", "refs_to", "refsTo", "meta"}
        if unknown:
            raise InvalidArgumentError(f"unknown query field(s) {sorted(unknown)}: use prefix, refs_to and meta")
        conditions.update({("refs_to" if k == "refsTo" else k): v for k, v in query.items()})
    elif query is not None:
        raise InvalidArgumentError(f"query must be a prefix string or a dict, got {type(query).__name__}")
    for k, v in (("prefix", prefix), ("refs_to", refs_to), ("meta", meta)):
        if v is not None:
            conditions[k] = v
    q: Dict[str, str] = {"limit": str(LIST_PAGE)}
    if conditions.get("prefix"):
        q["prefix"] = check_prefix(conditions["prefix"])
    if conditions.get("refs_to") is not None:
        q["refsTo"] = to_sha1(conditions["refs_to"])
    m = conditions.get("meta")
    if m is not None:
        if not isinstance(m, Mapping):
            raise InvalidArgumentError(f"meta must be a dict of field: value, got {type(m).__name__}")
        for field, value in m.items():
            if not isinstance(field, str) or field == "":
                raise InvalidArgumentError(f"meta filter fields must be non-empty strings, got {field!r}")
            # JSON, so 5 means the number and "5" the string, exactly as stored
            q["meta." + field] = dumps(value)
    return q


def _content_length(res: Any) -> int:
    value = res.headers.get("Content-Length")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConnectionLostError(f"the Trove node answered a blob without a valid Content-Length ({value!r})") from None


def _safe_file_name(name: str, sha1: str) -> str:
    """The URI's file name as a name in one folder: never a path, never hidden, never empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", "..") or len(base.encode("utf-8", errors="replace")) > MAX_NAME_LENGTH or "\x00" in base:
        return sha1
    return base


def _create_beside(folder: str, base: str) -> Tuple[str, int]:
    """A new hidden temp file next to the destination (same filesystem, so the rename is atomic),
    created with the permissions an ordinary new file gets."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{base[:200]}.{secrets.token_hex(4)}.trove-partial")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "cannot create a temp file", folder)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise MissingDependencyError('this needs numpy: pip install "trove[numpy]" (or your system\'s package of it)') from None
    return numpy


def _tree_bytes(folder: str) -> int:
    """Bytes of the regular files below ``folder`` (for a progress bar's total)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
