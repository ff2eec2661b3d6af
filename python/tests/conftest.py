"""pytest fixtures: real nodes (tests/nodes.py), clients of them, and a clean environment."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Iterator

import pytest

import trove
from nodes import Node, Nodes, SetupError, cli, connected, wait_until


@pytest.fixture(scope="session", autouse=True)
def built_cli() -> None:
    try:
        cli()
    except SetupError as err:
        pytest.exit(str(err), returncode=2)


@pytest.fixture(scope="session")
def session_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    nodes = Nodes(tmp_path_factory.mktemp("nodes"))
    yield nodes
    nodes.stop_all()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    """Nodes of one test, for tests that stop or kill them."""
    n = Nodes(tmp_path)
    yield n
    n.stop_all()


@pytest.fixture(scope="session")
def node_a(session_nodes: Nodes) -> Node:
    return session_nodes.start("a")


@pytest.fixture(scope="session")
def node_b(session_nodes: Nodes, node_a: Node) -> Node:
    """A second node that bootstraps from node_a, connected to it before any test uses it."""
    b = session_nodes.start("b", ["--bootstrap", node_a.addr()])
    client = b.client()
    wait_until(lambda: connected(client, node_a.peer_id), "node b to connect to node a")
    return b


@pytest.fixture(scope="session")
def client_a(node_a: Node) -> trove.Client:
    return node_a.client()


@pytest.fixture(scope="session")
def client_b(node_b: Node) -> trove.Client:
    return node_b.client()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """TROVE_CLI naming the built CLI, for connect(start=True)."""
    command = shlex.join(cli())
    monkeypatch.setenv("TROVE_CLI", command)
    return command


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """load_file without dest writes to the cache: each test gets its own."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TROVE_CACHE", str(cache))
    return cache


@pytest.fixture(autouse=True)
def no_default_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a default client (connect() sets one)."""
    monkeypatch.setattr(trove.client, "_default", None)
