"""One keep-alive HTTP connection pool to a node's API, and the mapping of every failure onto
the package's exceptions.

urllib3 is the HTTP library under requests, used directly: it streams request and answer bodies
in both directions with one chunk in memory, keeps connections alive, and costs about half the
time per call that requests adds on top of it (docs/python.md, Design notes).

Small JSON calls (refs, pins, status) take a shorter path: one keep-alive ``http.client``
connection per thread whose request goes out in one write. urllib3's pool bookkeeping and URL
parsing and http.client's habit of sending the head and the body in two writes were most of a
``set_ref``'s time on the client (0.29 ms of CPU per call against 0.11 ms on this path).
"""

from __future__ import annotations

import getpass
import http.client
import json as jsonlib
import os
import socket
import threading
from typing import Any, Dict, Iterable, Mapping, Optional, Union
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
from urllib3.util import Retry, Timeout
from urllib3.util.connection import is_connection_dropped

from .constants import API_PREFIX, CONNECT_TIMEOUT_S, POOL_SIZE
from .errors import (
    ConnectionLostError,
    InvalidArgumentError,
    InvalidJsonError,
    NodeNotRunningError,
    TroveError,
    UnauthorizedError,
    error_from_answer,
    error_from_status,
)

#: Header naming the author of a write in ref history (src/api/constants.ts AUTHOR_HEADER).
AUTHOR_HEADER = "X-Trove-By"

# A request on a keep-alive connection the node closed a moment before fails without reaching
# it; reads are retried once for that. Writes are never retried: the first attempt may have
# reached the node. A refused connection is final: nothing listens there.
_RETRY = Retry(total=1, connect=0, read=1, status=0, redirect=0, allowed_methods=frozenset({"GET", "HEAD"}),
               raise_on_status=False, raise_on_redirect=False)

START_HINT = 'start one with "trove start" (or trove.connect(start=True))'

_UNSET: Any = object()


class _OneWriteConnection(http.client.HTTPConnection):
    """An ``http.client`` connection that sends a request's head and bytes body in one write, with
    Nagle off: two writes cost a second system call here and a second read on the node."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, (bytes, bytearray)) and not encode_chunked:
            self._buffer.extend((b"", b""))  # type: ignore[attr-defined]
            head = b"\r\n".join(self._buffer)  # type: ignore[attr-defined]
            del self._buffer[:]  # type: ignore[attr-defined]
            self.send(head + message_body)
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _Answer:
    """A whole answer read on the short path, shaped like the parts of urllib3's that are used."""

    __slots__ = ("status", "data", "headers")

    def __init__(self, status: int, data: bytes, headers: Any) -> None:
        self.status = status
        self.data = data
        self.headers = headers

    def release_conn(self) -> None:
        pass


def default_author() -> str:
    """``user@host``, as the CLI records writes (src/api/client.ts defaultAuthor)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a container without a passwd entry
        user = f"pid{os.getpid()}"
    return f"{user}@{socket.gethostname()}"


def ref_route(key: str) -> str:
    """Every slash of the key encoded, so no key can be mistaken for ``.../history``."""
    return "/refs/" + quote(key, safe="")


class Transport:
    """Requests to one node's API over a pool of keep-alive connections. Thread-safe."""

    def __init__(self, url: str, token: Optional[str] = None, *, timeout: Optional[float] = None,
                 author: Optional[str] = None, token_hint: str = "", start_hint: str = START_HINT) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise InvalidArgumentError(f"the node's API URL must be http://HOST:PORT, got {url!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise InvalidArgumentError(f"the node's API URL has a bad port: {url!r}") from None
        # "http://127.0.0.1:4738", "…/" and "…/api/v1" all name the same API
        path = parts.path.rstrip("/")
        if path.endswith(API_PREFIX):
            path = path[: -len(API_PREFIX)]
        self.url = f"http://{parts.netloc}{path}"
        self._prefix = path + API_PREFIX
        self.token = token
        self.timeout = timeout
        self.author = author if author is not None else default_author()
        self._token_hint = token_hint
        self._start_hint = start_hint
        self._host, self._port = parts.hostname, port
        self._pool = self._new_pool()
        self._local = threading.local()
        self._quick_lock = threading.Lock()
        self._quick: "list[_OneWriteConnection]" = []

    def _new_pool(self) -> urllib3.HTTPConnectionPool:
        return urllib3.HTTPConnectionPool(self._host, self._port, maxsize=POOL_SIZE, block=False,
                                          timeout=Timeout(connect=CONNECT_TIMEOUT_S, read=self.timeout), retries=_RETRY)

    def close(self) -> None:
        """Closes the idle connections; later requests open new ones."""
        old, self._pool = self._pool, self._new_pool()
        old.close()
        with self._quick_lock:
            quick, self._quick = self._quick, []
        for conn in quick:
            conn.close()

    def request(self, method: str, route: str, *, query: Optional[Mapping[str, Any]] = None, json: Any = _UNSET,
                body: Union[bytes, Iterable[bytes], None] = None, headers: Optional[Dict[str, str]] = None,
                stream: bool = False, timeout: Any = _UNSET, expect: Iterable[int] = (200,)) -> Any:
        """Sends one request. A status outside ``expect`` raises the error the answer describes;
        otherwise the answer is returned, unread when ``stream`` (the caller releases it)."""
        url, h, body = self._prepare(method, route, query, json, body, headers)
        t = Timeout(connect=CONNECT_TIMEOUT_S, read=self.timeout if timeout is _UNSET else timeout)
        try:
            res = self._pool.urlopen(method, url, body=body, headers=h, preload_content=not stream, timeout=t)
        except TroveError:
            raise  # from a request body generator (a file that changed while it was sent)
        except Exception as err:  # noqa: BLE001 - every transport failure becomes one of ours
            raise self.transport_error(err) from err
        if res.status not in expect:
            raise self._answer_error(method, res)
        return res

    def json(self, method: str, route: str, **kwargs: Any) -> Any:
        """A request whose answer is JSON, decoded."""
        body = kwargs.get("body")
        if body is None or isinstance(body, bytes):
            res = self._quick_request(method, route, **kwargs)
        else:
            res = self.request(method, route, **kwargs)
        try:
            return jsonlib.loads(res.data)
        except ValueError:
            raise ConnectionLostError(f"the Trove node at {self.url} answered {method} {route} with something that is not JSON") from None

    def _prepare(self, method: str, route: str, query: Optional[Mapping[str, Any]], json: Any, body: Any,
                 headers: Optional[Dict[str, str]]) -> "tuple[str, Dict[str, str], Any]":
        """The URL, headers (the token and author for a write) and body of a request."""
        h: Dict[str, str] = dict(headers or {})
        if method not in ("GET", "HEAD"):
            if self.token is not None:
                h["Authorization"] = f"Bearer {self.token}"
            h[AUTHOR_HEADER] = self.author
        if json is not _UNSET:
            body = dumps(json).encode("utf-8")
            h["Content-Type"] = "application/json"
        url = self._prefix + route
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, quote_via=quote, safe="")
        return url, h, body

    def _quick_request(self, method: str, route: str, *, query: Optional[Mapping[str, Any]] = None, json: Any = _UNSET,
                       body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                       timeout: Any = _UNSET, expect: Iterable[int] = (200,)) -> _Answer:
        """``request`` for a small body and a whole answer, on this thread's own connection."""
        url, h, body = self._prepare(method, route, query, json, body, headers)
        read_timeout = self.timeout if timeout is _UNSET else timeout
        # like urllib3's Retry above: a read may go once more on a new connection when the one it
        # was sent on turns out dead; a write never does (the first attempt may have reached the node)
        attempts = 2 if method in ("GET", "HEAD") else 1
        for attempt in range(attempts):
            conn = self._quick_conn()
            try:
                conn.sock.settimeout(read_timeout)
                conn.request(method, url, body=body, headers=h)
                res = conn.getresponse()
                data = res.read() if method != "HEAD" else b""
            except Exception as err:  # noqa: BLE001 - every transport failure becomes one of ours
                self._drop_quick(conn)
                if attempt + 1 < attempts and isinstance(err, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                    continue
                raise self.transport_error(err) from err
            if res.will_close:
                self._drop_quick(conn)
            answer = _Answer(res.status, data, res.headers)
            if answer.status not in expect:
                raise self._answer_error(method, answer)
            return answer
        raise AssertionError("unreachable")

    def _quick_conn(self) -> _OneWriteConnection:
        conn: Optional[_OneWriteConnection] = getattr(self._local, "conn", None)
        if conn is not None and (conn.sock is None or is_connection_dropped(conn)):
            self._drop_quick(conn)
            conn = None
        if conn is None:
            conn = _OneWriteConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
            try:
                conn.connect()
            except Exception as err:  # noqa: BLE001
                conn.close()
                raise self.transport_error(err) from err
            self._local.conn = conn
            with self._quick_lock:
                self._quick.append(conn)
        return conn

    def _drop_quick(self, conn: _OneWriteConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._quick_lock:
            if conn in self._quick:
                self._quick.remove(conn)

    def _answer_error(self, method: str, res: Any) -> TroveError:
        try:
            raw = res.data if method != "HEAD" else b""
        except Exception as broken:  # noqa: BLE001 - the body of an error answer broke off
            return self.transport_error(broken)
        finally:
            res.release_conn()
        if method == "HEAD" or not raw:
            answer = error_from_status(res.status)
        else:
            try:
                answer = error_from_answer(jsonlib.loads(raw), res.status)
            except ValueError:
                answer = error_from_answer(None, res.status)
        if isinstance(answer, UnauthorizedError) and self.token is None:
            return UnauthorizedError(f"{answer.message} (this client has no API token{self._token_hint})", status=answer.status)
        return answer

    def transport_error(self, err: BaseException) -> TroveError:
        """A connection that could not be made, broke or stalled, as one of our exceptions."""
        if isinstance(err, TroveError):
            return err
        if isinstance(err, MaxRetryError) and err.reason is not None:
            err = err.reason
        if isinstance(err, (NewConnectionError, ConnectTimeoutError)) or isinstance(err, ConnectionRefusedError):
            return NodeNotRunningError(f"no Trove node answers at {self.url} ({_reason(err)}); {self._start_hint}")
        if isinstance(err, ReadTimeoutError) or isinstance(err, socket.timeout):
            return ConnectionLostError(f"the Trove node at {self.url} stopped answering (no data for {self.timeout} s)")
        if isinstance(err, (HTTPError, OSError)):
            return ConnectionLostError(f"the connection to the Trove node at {self.url} broke ({_reason(err)}); did the node stop?")
        return ConnectionLostError(f"request to the Trove node at {self.url} failed: {err!r}")


def _reason(err: BaseException) -> str:
    # urllib3 wraps the OS error (as the context of its own); the errno's text says most
    inner: Optional[BaseException] = err
    for _ in range(5):
        if inner is None:
            break
        if isinstance(inner, OSError) and inner.errno is not None:
            return os.strerror(inner.errno)
        inner = inner.__cause__ or inner.__context__
    return str(err)


def dumps(value: Any) -> str:
    """JSON as the node stores it; NaN, infinities and non-JSON types are InvalidJsonError here."""
    try:
        return jsonlib.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise InvalidJsonError(f"cannot be sent as JSON: {err}") from None
