"""Finding a node the way the CLI does, and starting one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import trove
from nodes import Node, Nodes, cli, wait_until
from trove._node import pid_alive, read_discovery


def reaped(pid: int) -> bool:
    """Whether our child process has exited (and is collected, so it is no zombie)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def test_connect_by_data_dir_env_and_home(node_a: Node, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    by_dir = trove.connect(data_dir=node_a.data)
    assert by_dir.url == node_a.url and by_dir.data_dir == node_a.data
    # connect() makes the default of the module-level functions
    assert trove.default_client() is by_dir
    monkeypatch.setenv("TROVE_DATA", node_a.data)
    assert trove.connect().url == node_a.url
    # without TROVE_DATA: ~/.trove
    monkeypatch.delenv("TROVE_DATA")
    home = tmp_path / "home"
    (home / ".trove").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(trove.NodeNotRunningError, match=str(home / ".trove")):
        trove.connect()
    # a data directory given as ~/...
    monkeypatch.setenv("HOME", str(Path(node_a.data).parent))
    assert trove.connect(data_dir="~/data").url == node_a.url


def test_connect_by_url_reads_the_token(node_a: Node) -> None:
    c = trove.connect(data_dir=node_a.data, url=node_a.url + "/api/v1/", set_default=False)
    assert c.url == node_a.url
    c.set_ref("t/by-url", 1)
    assert c.get_ref("t/by-url")[0] == 1
    with pytest.raises(trove.InvalidArgumentError):
        trove.connect(url=node_a.url, start=True)


def test_no_node_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(trove.NodeNotRunningError) as e:
        trove.connect(data_dir=tmp_path)
    assert "trove" in str(e.value) and "start" in str(e.value) and str(tmp_path) in str(e.value)


def test_stale_discovery_file_is_ignored(nodes: Nodes) -> None:
    node = nodes.start("stale")
    info = read_discovery(node.data)
    assert info is not None and info["pid"] == node.pid
    node.kill()  # SIGKILL: api.json stays behind
    assert read_discovery(node.data) is not None and not pid_alive(node.pid)
    with pytest.raises(trove.NodeNotRunningError, match="is gone"):
        trove.connect(data_dir=node.data)


def test_discovery_file_of_another_directory(node_a: Node, tmp_path: Path) -> None:
    # api.json naming a live process whose API serves another data directory
    d = tmp_path / "other"
    d.mkdir()
    (d / "api.json").write_text(json.dumps({"url": node_a.url, "pid": node_a.pid, "startedAt": "2026-01-01T00:00:00Z"}))
    with pytest.raises(trove.NodeNotRunningError, match="runs on"):
        trove.connect(data_dir=d)


def test_start_starts_a_node_in_the_background(tmp_path: Path, cli_env: str) -> None:
    data = tmp_path / "data"
    # a data directory whose node will listen on free ports, without mDNS
    subprocess.run([*cli(), "--data", str(data), "init"], check=True, capture_output=True)
    config = json.loads((data / "config.json").read_text())
    config.update({"api": {"host": "127.0.0.1", "port": 0}, "listen": ["/ip4/127.0.0.1/tcp/0"], "mdns": False})
    (data / "config.json").write_text(json.dumps(config))
    client = trove.connect(data_dir=data, start=True)
    try:
        assert client.status()["dataDir"] == str(data)
        uri = client.store_text("started by connect")
        assert client.load_text(uri) == "started by connect"
        # a second connect finds the running node instead of starting another
        again = trove.connect(data_dir=data, start=True, set_default=False)
        assert again.url == client.url
    finally:
        info = read_discovery(str(data))
        assert info is not None
        os.kill(info["pid"], signal.SIGTERM)
        wait_until(lambda: reaped(info["pid"]), "the started node to stop")
    assert (data / "trove-node.log").exists()


def test_a_failed_start_quotes_the_log(tmp_path: Path, cli_env: str, node_a: Node) -> None:
    # an API port another node holds: the start fails for certain, and the error quotes its log
    data = tmp_path / "fresh"
    port = node_a.url.rsplit(":", 1)[1]
    subprocess.run([*cli(), "--data", str(data), "init"], check=True, capture_output=True)
    config = json.loads((data / "config.json").read_text())
    config.update({"api": {"host": "127.0.0.1", "port": int(port)}, "listen": ["/ip4/127.0.0.1/tcp/0"], "mdns": False})
    (data / "config.json").write_text(json.dumps(config))
    with pytest.raises(trove.NodeStartError, match="in use"):
        trove.connect(data_dir=data, start=True)


def test_start_runs_init_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a command that is not trove: init fails and says so
    monkeypatch.setenv("TROVE_CLI", "false")
    with pytest.raises(trove.NodeStartError, match="init failed"):
        trove.connect(data_dir=tmp_path / "new", start=True)
    monkeypatch.setenv("TROVE_CLI", str(tmp_path / "no-such-command"))
    with pytest.raises(trove.NodeStartError, match="cannot run"):
        trove.connect(data_dir=tmp_path / "new", start=True)


def test_every_client_method_is_also_a_module_function() -> None:
    methods = {n for n in vars(trove.Client) if not n.startswith("_") and callable(getattr(trove.Client, n))} - {"open", "close"}
    assert len(methods) > 25
    for name in methods:
        function = getattr(trove, name)
        assert function.__doc__.startswith(getattr(trove.Client, name).__doc__), name
        assert name in trove.__all__, name
