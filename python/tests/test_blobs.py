"""Blobs through a real node: store and load files, bytes, ranges and typed values."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tracemalloc
import uuid
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest

import trove
from nodes import random_bytes


def sha1_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_store_file_and_load_file(client_a: trove.Client, tmp_path: Path) -> None:
    data = random_bytes(3_000_000, seed=1)
    src = tmp_path / "results.csv"
    src.write_bytes(data)
    uri = client_a.store_file(src)
    assert uri == f"sha1://{sha1_of(data)}/results.csv"
    # to a file path
    dest = tmp_path / "out" / "copy.csv"
    dest.parent.mkdir()
    assert client_a.load_file(uri, dest) == str(dest)
    assert dest.read_bytes() == data
    # into a directory: the URI's file name
    assert client_a.load_file(uri, tmp_path / "out") == str(tmp_path / "out" / "results.csv")
    # replacing an existing file
    dest.write_bytes(b"old")
    client_a.load_file(uri, str(dest))
    assert dest.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["copy.csv", "results.csv"]


def test_load_file_without_dest_uses_the_cache(client_a: trove.Client, tmp_path: Path, private_cache: Path) -> None:
    data = random_bytes(100_000, seed=2)
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    uri = client_a.store_file(src)
    path = client_a.load_file(uri)
    assert Path(path).read_bytes() == data
    assert Path(path).is_relative_to(private_cache) if hasattr(Path, "is_relative_to") else str(private_cache) in path
    assert Path(path).name == "a.bin"
    # read-only: a cached copy is shared by every later call
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert client_a.load_file(uri) == path
    bare = client_a.load_file(trove.to_sha1(uri))
    assert Path(bare).read_bytes() == data


def test_store_options_ref_pin_meta_name(client_a: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "spikes.npy"
    src.write_bytes(random_bytes(5000, seed=3))
    k = f"t/{uuid.uuid4().hex[:8]}/spikes"
    uri = client_a.store_file(src, ref=k, pin=True, meta={"priority": 3}, name="renamed.npy")
    assert uri.endswith("/renamed.npy")
    assert client_a.get_ref(k) == ({"renamed.npy": uri}, {"priority": 3})
    info = client_a.load_file_info(uri)
    assert info["local"] is True and info["pinned"] is True and info["size"] == 5000
    assert {r["kind"] for r in info["reasons"]} == {"pin", "ref"}
    assert any(p["sha1"] == trove.to_sha1(uri) for p in client_a.pins())
    assert client_a.unpin(uri)["unpinned"] is True
    assert client_a.why(uri)["reasons"] == [{"kind": "ref", "key": k, "priority": 3, "pin": False}]
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_file(src, meta={"priority": 1})  # meta without ref
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_file(src, name="a/b")
    with pytest.raises(trove.InvalidKeyError):
        client_a.store_file(src, ref="bad//key")


def test_empty_file(client_a: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    uri = client_a.store_file(src)
    assert trove.to_sha1(uri) == sha1_of(b"")
    assert Path(client_a.load_file(uri, tmp_path / "e2")).read_bytes() == b""
    assert client_a.load_bytes(uri, 0, 0) == b""


def test_load_bytes_ranges(client_a: trove.Client) -> None:
    data = random_bytes(1_000_000, seed=4)
    uri = client_a.store_bytes(data, name="r.bin")
    assert client_a.load_bytes(uri, 0, 10) == data[:10]
    assert client_a.load_bytes(uri, 123_456, 654_321) == data[123_456:654_321]
    assert client_a.load_bytes(uri, 999_990) == data[999_990:]
    assert client_a.load_bytes(uri, 999_990, 2_000_000) == data[999_990:]  # shortened, like a slice
    assert client_a.load_bytes(uri, 5, 5) == b""
    assert client_a.load_bytes(uri) == data
    with pytest.raises(trove.RangeNotSatisfiableError):
        client_a.load_bytes(uri, 1_000_000, 1_000_001)
    for start, end in [(-1, 5), (5, 4), (1.5, 3), ("0", 3), (0, "9")]:
        with pytest.raises(trove.InvalidArgumentError):
            client_a.load_bytes(uri, start, end)  # type: ignore[arg-type]


def test_text_json_npy_pkl(client_a: trove.Client) -> None:
    text = "ünïcode text\n" * 100
    assert client_a.load_text(client_a.store_text(text)) == text
    value = {"b": [1, 2.5, None], "a": {"nested": True}, "s": "é"}
    uri = client_a.store_json(value)
    assert client_a.load_json(uri) == value
    # sorted keys, compact: equal values give the same blob
    assert client_a.store_json({"a": {"nested": True}, "s": "é", "b": [1, 2.5, None]}) == uri
    for array in [np.arange(12, dtype=np.int16).reshape(3, 4), np.random.default_rng(0).random((50, 70)),
                  np.array([], dtype=np.float32), np.array(["a", "bc"]), np.asfortranarray(np.ones((4, 3)))]:
        back = client_a.load_npy(client_a.store_npy(array))
        assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    obj = {"array": np.arange(5), "tuple": (1, "x"), "set": {1, 2}}
    back = client_a.load_pkl(client_a.store_pkl(obj))
    assert np.array_equal(back["array"], obj["array"]) and back["tuple"] == (1, "x") and back["set"] == {1, 2}


def test_typed_values_refuse_what_they_cannot_store(client_a: trove.Client) -> None:
    with pytest.raises(trove.InvalidJsonError):
        client_a.store_json({"x": {1, 2}})
    with pytest.raises(trove.InvalidJsonError):
        client_a.store_json(float("nan"))
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_npy(np.array([{"a": 1}], dtype=object))
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_pkl(lambda: 1)
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_text(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_bytes("text")  # type: ignore[arg-type]
    not_json = client_a.store_text("{not json")
    with pytest.raises(trove.InvalidJsonError):
        client_a.load_json(not_json)
    with pytest.raises(trove.InvalidArgumentError):
        client_a.load_npy(not_json)


def test_missing_files_and_directories(client_a: trove.Client, tmp_path: Path) -> None:
    with pytest.raises(trove.TroveFileNotFoundError, match="no such file"):
        client_a.store_file(tmp_path / "missing.csv")
    # also a builtin FileNotFoundError, which existing code catches
    with pytest.raises(FileNotFoundError):
        client_a.store_file(str(tmp_path / "missing.csv"))
    with pytest.raises(trove.TroveFileNotFoundError, match="directory"):
        client_a.store_file(tmp_path)
    uri = client_a.store_text("x")
    with pytest.raises(trove.TroveFileNotFoundError, match="does not exist"):
        client_a.load_file(uri, tmp_path / "no" / "such" / "dir" / "f")


def test_unknown_blob(client_a: trove.Client, tmp_path: Path) -> None:
    missing = "sha1://" + sha1_of(uuid.uuid4().bytes) + "/gone.csv"
    dest = tmp_path / "gone.csv"
    # node a has no peers holding it
    with pytest.raises((trove.BlobNotFoundError, trove.NoProvidersError)):
        client_a.load_file(missing, dest)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises((trove.BlobNotFoundError, trove.NoProvidersError)):
        client_a.load_bytes(missing, 0, 10)
    info = client_a.load_file_info(missing)
    assert info["local"] is False and info["size"] is None and info["kept"] is False
    with pytest.raises(trove.BlobNotFoundError):
        client_a.pin(missing)


@pytest.mark.parametrize("bad", ["sha1://abc", "sha1://" + "A" * 40, "https://x/y", "", None, 42])
def test_malformed_uris_fail_locally(client_a: trove.Client, bad: object, tmp_path: Path) -> None:
    for call in (lambda: client_a.load_file(bad, tmp_path / "x"), lambda: client_a.load_bytes(bad, 0, 1),  # type: ignore[arg-type]
                 lambda: client_a.load_text(bad), lambda: client_a.load_file_info(bad),  # type: ignore[arg-type]
                 lambda: client_a.pin(bad), lambda: client_a.why(bad)):  # type: ignore[arg-type]
        with pytest.raises(trove.InvalidUriError):
            call()
    assert list(tmp_path.iterdir()) == []


def test_corrupt_blob_is_caught_and_nothing_is_written(node_a, client_a: trove.Client, tmp_path: Path) -> None:
    data = random_bytes(200_000, seed=5)
    uri = client_a.store_bytes(data)
    blob = node_a.blob_path(trove.to_sha1(uri))
    # a disk that flipped a bit: same size, other content; the node serves the file as it is
    damaged = bytearray(data)
    damaged[100_000] ^= 0xFF
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(damaged))
    dest = tmp_path / "d.bin"
    with pytest.raises(trove.HashMismatchError):
        client_a.load_file(uri, dest)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(trove.HashMismatchError):
        client_a.load_text(uri)
    blob.write_bytes(data)


def test_progress_callback_and_bar(client_a: trove.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = random_bytes(3 * 1024 * 1024 + 5, seed=6)
    src = tmp_path / "p.bin"
    src.write_bytes(data)
    seen: List[Tuple[int, int]] = []
    uri = client_a.store_file(src, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(data), len(data)) and len(seen) == 4
    seen.clear()
    client_a.load_file(uri, tmp_path / "p2.bin", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(data), len(data))
    # progress=True draws a tqdm bar on stderr
    client_a.load_file(uri, tmp_path / "p3.bin", progress=True)
    assert "loading" in capsys.readouterr().err
    # not on a terminal, the default shows nothing
    client_a.load_file(uri, tmp_path / "p4.bin")
    assert capsys.readouterr().err == ""


def test_streaming_keeps_memory_flat(client_a: trove.Client, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(64):
            f.write(random_bytes(1024 * 1024, seed=100 + i))
    tracemalloc.start()
    try:
        uri = client_a.store_file(src)
        _, store_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        client_a.load_file(uri, tmp_path / "big2.bin")
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a few 1 MiB chunks in flight, never the file
    assert store_peak < 8 * 1024 * 1024, store_peak
    assert load_peak < 8 * 1024 * 1024, load_peak
    assert os.path.getsize(tmp_path / "big2.bin") == size


def test_open_streams_and_verifies(client_a: trove.Client) -> None:
    data = random_bytes(2_500_000, seed=7)
    uri = client_a.store_bytes(data)
    with client_a.open(uri) as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]
    with client_a.open(uri) as f:
        assert io.BufferedReader(f).read() == data
    assert client_a.blob_size(uri) == len(data)


def test_a_closed_client_reconnects(node_a) -> None:
    with node_a.client() as c:
        c.status()
    assert c.status()["mode"] == "node"


def test_node_state(client_a: trove.Client) -> None:
    status = client_a.status()
    assert status["mode"] == "node" and status["api"]["url"] == client_a.url
    assert isinstance(client_a.peers(), list)
    assert isinstance(client_a.transfers(), list)
    report = client_a.gc()
    assert isinstance(report, dict)
    with pytest.raises(trove.InvalidArgumentError):
        client_a.gc(dry_run="yes")  # type: ignore[arg-type]
    result = client_a.fetch([client_a.store_text("fetch me")])
    assert result["local"] == 1 and result["failed"] == []
