"""Errors: the API's codes map to classes, and failures of the connection, the token and the node
itself raise clear exceptions that leave nothing behind."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

import trove
from nodes import REPO, Node, Nodes, random_bytes
from trove.errors import TroveError, error_codes, error_from_answer


def documented_codes() -> dict:
    """The error table of docs/http-api.md: the API's contract with clients."""
    text = (REPO / "docs" / "http-api.md").read_text()
    table = text[text.index("## Errors"):]
    codes = {}
    for status, cell in re.findall(r"^\| (\d{3}) \| (.+?) \|", table, re.M):
        for code in re.findall(r"`([A-Z_]+)`", cell):
            codes[code] = int(status)
    assert len(codes) > 15, "the error table of docs/http-api.md was not found"
    return codes


def test_every_documented_code_has_its_own_class() -> None:
    classes = error_codes()
    for code, status in documented_codes().items():
        assert code in classes, f"{code} (docs/http-api.md) has no exception class in python/src/trove/errors.py"
        cls = classes[code]
        assert cls.code == code and cls.status == status and issubclass(cls, TroveError)
    # one class per code
    assert len(set(classes.values())) == len(classes)
    for cls in classes.values():
        assert getattr(trove, cls.__name__) is cls


def test_answers_become_their_class() -> None:
    err = error_from_answer({"error": {"code": "REF_NOT_FOUND", "name": "RefNotFoundError", "message": "ref not found: x"}}, 404)
    assert type(err) is trove.RefNotFoundError and err.code == "REF_NOT_FOUND" and str(err) == "ref not found: x"
    # a code from a newer node: the base class, keeping what was sent
    new = error_from_answer({"error": {"code": "SHINY_NEW", "name": "ShinyNewError", "message": "m"}}, 409)
    assert type(new) is trove.TroveError and (new.code, new.status, new.api_name) == ("SHINY_NEW", 409, "ShinyNewError")
    assert isinstance(error_from_answer("not json", 503), trove.ApiUnavailableError)
    assert isinstance(error_from_answer(None, 500), trove.InternalError)


def test_errors_survive_pickling() -> None:
    import pickle
    err = pickle.loads(pickle.dumps(trove.RefNotFoundError("ref not found: x", status=404)))
    assert type(err) is trove.RefNotFoundError and err.code == "REF_NOT_FOUND" and err.message == "ref not found: x"


def test_wrong_token(node_a: Node, client_a: trove.Client, tmp_path: Path) -> None:
    bad = trove.connect(url=node_a.url, token="0" * 64, set_default=False)
    with pytest.raises(trove.UnauthorizedError):
        bad.set_ref("t/wrong-token", 1)
    with pytest.raises(trove.RefNotFoundError):
        client_a.get_ref("t/wrong-token")
    src = tmp_path / "f.bin"
    data = random_bytes(3_000_000, seed=11)
    src.write_bytes(data)
    with pytest.raises(trove.UnauthorizedError):
        bad.store_file(src)
    # refused before a byte was stored
    assert client_a.load_file_info(trove.format_uri(__import__("hashlib").sha1(data).hexdigest()))["local"] is False
    # reads need no token
    assert bad.status()["mode"] == "node"


def test_no_token_says_where_it_looked(node_a: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROVE_DATA", str(tmp_path / "empty"))
    c = trove.connect(url=node_a.url, set_default=False)
    with pytest.raises(trove.UnauthorizedError, match="no API token.*empty/api-token"):
        c.set_ref("t/no-token", 1)
    with pytest.raises(trove.UnauthorizedError, match="pass token="):
        trove.Client(node_a.url).set_ref("t/no-token", 1)


def test_nothing_listening(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the port is free again: nothing answers there
    with pytest.raises(trove.NodeNotRunningError, match='start one with "trove start"'):
        trove.connect(url=f"http://127.0.0.1:{port}", set_default=False)
    c = trove.Client(f"http://127.0.0.1:{port}")
    with pytest.raises(trove.NodeNotRunningError):
        c.get_ref("x")
    # also a builtin ConnectionError
    with pytest.raises(ConnectionError):
        c.status()


def test_bad_urls() -> None:
    for url in ["https://127.0.0.1:4738", "127.0.0.1:4738", "http://", "http://127.0.0.1:99999"]:
        with pytest.raises(trove.InvalidArgumentError):
            trove.Client(url)


def test_node_stopping_in_the_middle_of_a_load(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.start("dying")
    client = node.client()
    size = 48 * 1024 * 1024
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(48):
            f.write(random_bytes(1024 * 1024, seed=200 + i))
    uri = client.store_file(src)
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "big.bin"
    dest.write_bytes(b"what was there before")

    def kill_after_first_chunk(done: int, total: int) -> None:
        if node.running:
            node.kill()

    with pytest.raises(trove.ConnectionLostError, match="did the node stop"):
        client.load_file(uri, dest, progress=kill_after_first_chunk)
    # no partial file: the destination keeps what it had, and no temp file is left beside it
    assert dest.read_bytes() == b"what was there before"
    assert [p.name for p in out.iterdir()] == ["big.bin"]
    assert size > 0
    # the node is gone now: the next call says so
    with pytest.raises(trove.NodeNotRunningError):
        client.status()


def test_node_stopping_in_the_middle_of_a_store(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.start("dying-store")
    client = node.client()
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(32):
            f.write(random_bytes(1024 * 1024, seed=300 + i))

    def stop_after_first_chunk(done: int, total: int) -> None:
        if node.running:
            node.stop(signal.SIGKILL)

    with pytest.raises(trove.ConnectionLostError):
        client.store_file(src, progress=stop_after_first_chunk)
