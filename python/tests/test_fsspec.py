"""sha1:// through fsspec: lazy byte-range reads from pandas, h5py and fsspec.open."""

from __future__ import annotations

import io
from pathlib import Path
from typing import List, Tuple

import fsspec
import h5py
import numpy as np
import pandas as pd
import pytest

import trove
from nodes import Node, random_bytes
from trove.fs import TroveFileSystem


class CountingClient(trove.Client):
    """A real client that also records the ranges asked for, to show reads are lazy."""

    ranges: List[Tuple[int, int]]

    def load_bytes(self, uri: str, start: int = 0, end=None) -> bytes:  # type: ignore[override]
        data = super().load_bytes(uri, start, end)
        self.ranges.append((start, start + len(data)))
        return data


@pytest.fixture
def counting(node_b: Node) -> CountingClient:
    c = CountingClient(node_b.url)
    c.ranges = []
    return c


def test_the_entry_point_registers_sha1() -> None:
    assert fsspec.get_filesystem_class("sha1") is TroveFileSystem


def test_fsspec_open_reads_ranges_lazily(client_a: trove.Client, counting: CountingClient, node_b: Node) -> None:
    data = random_bytes(40 * 1024 * 1024, seed=31)
    uri = client_a.store_bytes(data, name="big.bin")
    fs = TroveFileSystem(client=counting, skip_instance_cache=True)
    with fs.open(uri, "rb", block_size=1024 * 1024) as f:
        f.seek(30 * 1024 * 1024)
        assert f.read(1000) == data[30 * 1024 * 1024:30 * 1024 * 1024 + 1000]
    fetched = sum(e - s for s, e in counting.ranges)
    # one block, not the 40 MiB blob
    assert 0 < fetched <= 2 * 1024 * 1024, counting.ranges
    assert fs.cat_file(uri, -10) == data[-10:]
    assert fs.cat_file(uri, 5, 15) == data[5:15]
    assert fs.info(uri)["size"] == len(data)
    assert fs.ukey(uri) == trove.to_sha1(uri)
    # storage options choose the node, as connect() does
    with fsspec.open(uri, data_dir=node_b.data) as f:
        assert f.read(10) == data[:10]


def test_pandas_read_csv(client_a: trove.Client, node_b: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"unit": np.arange(1000), "rate": np.linspace(0, 1, 1000), "area": ["CA1"] * 1000})
    uri = client_a.store_text(frame.to_csv(index=False), name="units.csv")
    # the default node of the process: b, which fetches the blob from a
    monkeypatch.setenv("TROVE_DATA", node_b.data)
    back = pd.read_csv(uri)
    pd.testing.assert_frame_equal(back, frame)
    back = pd.read_csv(uri, storage_options={"data_dir": node_b.data}, nrows=5)
    assert list(back["unit"]) == [0, 1, 2, 3, 4]


def test_h5py_reads_a_slice(client_a: trove.Client, counting: CountingClient, tmp_path: Path) -> None:
    path = tmp_path / "session.nwb"
    big = np.random.default_rng(1).integers(0, 1000, size=(4000, 1000), dtype=np.int32)  # 16 MB
    with h5py.File(path, "w") as h:
        h.create_dataset("acquisition/raw", data=big)
        h.create_dataset("units/spike_times", data=np.arange(10.0))
    uri = client_a.store_file(path)
    fs = TroveFileSystem(client=counting, skip_instance_cache=True)
    with fs.open(uri, "rb", block_size=256 * 1024) as f, h5py.File(f, "r") as h:
        assert list(h["units/spike_times"][:3]) == [0.0, 1.0, 2.0]
        assert np.array_equal(h["acquisition/raw"][10:12], big[10:12])
    assert sum(e - s for s, e in counting.ranges) < 4 * 1024 * 1024, counting.ranges


def test_read_only_and_bad_paths(counting: CountingClient, client_a: trove.Client) -> None:
    fs = TroveFileSystem(client=counting, skip_instance_cache=True)
    uri = client_a.store_text("x")
    with pytest.raises(NotImplementedError):
        fs.open(uri, "wb")
    with pytest.raises(trove.InvalidUriError):
        fs.open("sha1://abc")
    assert not fs.exists("sha1://" + "0" * 40)
    assert fs.exists(uri)
    with pytest.raises(FileNotFoundError):
        fs.info("sha1://" + "0" * 40)
    assert isinstance(io.BytesIO(fs.cat(uri)).read(), bytes)
