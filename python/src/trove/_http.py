"""One keep-alive HTTP connection pool to a node's API, and the mapping of every failure onto
the package's exceptions.

urllib3 is the HTTP library under requests, used directly: it streams request and answer bodies
in both directions with one chunk in memory, keeps connections alive, and costs about half the
time per call that requests adds on top of it (docs/python.md, Design notes).
"""

from __future__ import annotations

import getpass
import json as jsonlib
import os
import socket
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

    def _new_pool(self) -> urllib3.HTTPConnectionPool:
        return urllib3.HTTPConnectionPool(self._host, self._port, maxsize=POOL_SIZE, block=False,
                                          timeout=Timeout(connect=CONNECT_TIMEOUT_S, read=self.timeout), retries=_RETRY)

    def close(self) -> None:
        """Closes the idle connections; later requests open new ones."""
        old, self._pool = self._pool, self._new_pool()
        old.close()

    def request(self, method: str, route: str, *, query: Optional[Mapping[str, Any]] = None, json: Any = _UNSET,
                body: Union[bytes, Iterable[bytes], None] = None, headers: Optional[Dict[str, str]] = None,
                stream: bool = False, timeout: Any = _UNSET, expect: Iterable[int] = (200,)) -> Any:
        """Sends one request. A status outside ``expect`` raises the error the answer describes;
        otherwise the answer is returned, unread when ``stream`` (the caller releases it)."""
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
        res = self.request(method, route, **kwargs)
        try:
            return jsonlib.loads(res.data)
        except ValueError:
            raise ConnectionLostError(f"the Trove node at {self.url} answered {method} {route} with something that is not JSON") from None

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
