"""The client's connection handling: keep-alive connections the node closed, requests that break
off, and one client shared by threads.

A scripted HTTP server stands in for the node where the test is about what the client does when a
connection ends at a chosen moment, which a real node does not do on demand; everything else runs
against real nodes.
"""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, List, Tuple

import pytest

import trove

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s'
REF = json.dumps({"key": "k", "version": 1, "obj": 1, "meta": {}, "setAt": "2026-01-01T00:00:00.000Z"}).encode()


class ScriptedServer:
    """Accepts connections and hands each received request (its head) to ``script``, which says
    what to do: answer and keep the connection, answer and close it, or close without answering."""

    def __init__(self, script: Callable[[int, bytes], str]) -> None:
        self.script = script
        self.requests: List[Tuple[int, bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._conn_count = 0
        #: released each time the server has closed a connection
        self.closed = threading.Semaphore(0)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conn_count += 1
            threading.Thread(target=self._serve, args=(conn, self._conn_count), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        try:
            self._exchange(conn, n)
        finally:
            conn.close()
            self.closed.release()

    def _exchange(self, conn: socket.socket, n: int) -> None:
        buf = b""
        if True:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.requests.append((n, head.split(b"\r\n", 1)[0]))
                action = self.script(len(self.requests), head)
                if action == "drop":
                    return
                conn.sendall(OK % (len(REF), REF))
                if action == "close":
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, bytes], str]], ScriptedServer]]:
    servers: List[ScriptedServer] = []

    def make(script: Callable[[int, bytes], str]) -> ScriptedServer:
        s = ScriptedServer(script)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def test_a_connection_the_node_closed_is_replaced(scripted) -> None:  # type: ignore[no-untyped-def]
    # the node closes each connection after answering (as it does after its keep-alive timeout)
    server = scripted(lambda i, head: "close")
    c = trove.Client(server.url, token="t")
    for i in range(3):
        assert c.get_ref_record("k")["version"] == 1
        assert server.closed.acquire(timeout=10)
        c.set_ref("k", i)  # a write after the close goes on a new connection, once
        assert server.closed.acquire(timeout=10)
    assert len(server.requests) == 6
    assert len({n for n, _ in server.requests}) == 6


def test_a_read_that_broke_off_is_sent_once_more_a_write_never(scripted) -> None:  # type: ignore[no-untyped-def]
    # the first request of every connection is dropped without an answer
    def script(i: int, head: bytes) -> str:
        return "keep" if i % 2 == 0 else "drop"
    server = scripted(script)
    c = trove.Client(server.url, token="t")
    assert c.get_ref_record("k")["version"] == 1
    assert [line.split(b" ")[0] for _, line in server.requests] == [b"GET", b"GET"]
    with pytest.raises(trove.ConnectionLostError):
        c.set_ref("k", 1)
    # the write went out once and was not repeated
    assert [line.split(b" ")[0] for _, line in server.requests] == [b"GET", b"GET", b"PUT"]


def test_one_client_shared_by_threads(client_a: trove.Client) -> None:
    def work(t: int) -> List[int]:
        versions = []
        for i in range(40):
            versions.append(client_a.set_ref(f"threads/t{t}", {"i": i})["version"])
            assert client_a.get_ref(f"threads/t{t}")[0] == {"i": i}
        return versions
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(6)))
    for versions in results:
        assert versions == sorted(versions) and len(set(versions)) == 40
    client_a.close()
    # closed connections are replaced on the next call
    assert client_a.get_ref("threads/t0")[0] == {"i": 39}
