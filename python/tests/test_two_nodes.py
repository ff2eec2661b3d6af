"""Two nodes on 127.0.0.1: what is stored on one is loaded through the other."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import trove
from nodes import random_bytes


def test_store_on_a_load_on_b(client_a: trove.Client, client_b: trove.Client, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    # larger than the node's chunked threshold (8 MiB): fetched through a chunk manifest
    data = random_bytes(12 * 1024 * 1024 + 7, seed=21)
    src = tmp_path / "recording.bin"
    src.write_bytes(data)
    uri = client_a.store_file(src, ref="lab/two-nodes/recording")
    assert client_b.load_file_info(uri)["local"] is False
    # with a bar: while b fetches from a, the bar follows the node's transfer, then the copy
    path = client_b.load_file(uri, tmp_path / "on-b.bin", progress=True)
    assert "loading" in capsys.readouterr().err
    assert hashlib.sha1(Path(path).read_bytes()).hexdigest() == trove.to_sha1(uri)
    assert client_b.load_file_info(uri)["local"] is True
    # refs are each node's own
    with pytest.raises(trove.RefNotFoundError):
        client_b.get_ref("lab/two-nodes/recording")
    assert client_a.get_ref("lab/two-nodes/recording")[0] == {"recording.bin": uri}


def test_small_values_and_ranges_from_a_peer(client_a: trove.Client, client_b: trove.Client) -> None:
    data = random_bytes(3 * 1024 * 1024, seed=22)
    uri = client_a.store_bytes(data, name="r.bin")
    assert client_b.load_bytes(uri, 1_000_000, 1_000_100) == data[1_000_000:1_000_100]
    value = {"spikes": uri, "n": 3}
    assert client_b.load_json(client_a.store_json(value)) == value
    assert client_b.load_text(client_a.store_text("from a")) == "from a"


def test_refs_round_trip_between_nodes(client_a: trove.Client, client_b: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "spikes.npy"
    src.write_bytes(random_bytes(100_000, seed=23))
    uri = client_a.store_file(src)
    client_a.set_ref("lab/two-nodes/sorting", {"spikes": uri}, {"priority": 4})
    # a script on b is told the ref's content (by a message, a shared notebook...) and records it there
    obj, meta = client_a.get_ref("lab/two-nodes/sorting")
    client_b.set_ref("lab/two-nodes/sorting", obj, meta)
    assert client_b.get_ref_keys(refs_to=uri) == ["lab/two-nodes/sorting"]
    assert Path(client_b.load_file(obj["spikes"], tmp_path / "copy.npy")).read_bytes() == src.read_bytes()
    assert client_b.why(uri)["reasons"] == [{"kind": "ref", "key": "lab/two-nodes/sorting", "priority": 4, "pin": False}]


def test_blob_nobody_has(client_b: trove.Client, tmp_path: Path) -> None:
    missing = "sha1://" + hashlib.sha1(b"nobody stored this " + str(tmp_path).encode()).hexdigest()
    with pytest.raises((trove.NoProvidersError, trove.BlobNotFoundError)):
        client_b.load_file(missing, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_peers_see_each_other(client_a: trove.Client, client_b: trove.Client, node_a, node_b) -> None:
    assert any(p["peerId"] == node_a.peer_id for p in client_b.peers())
    assert any(p["peerId"] == node_b.peer_id for p in client_a.peers())
