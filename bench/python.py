#!/usr/bin/env python3
"""The Python client against the ceilings of the same run, printed as JSON.

- load_file of a large blob from a peer vs `trove get -o` from a peer (each on a fresh node that
  bootstraps from the one holding the blob), and the same loads once the blob is local, vs curl
  of the same API URL and cp of a file of the same size;
- load_bytes of 1 MiB from a remote blob, the first call (the node fetches what it needs) and
  once local;
- set_ref / get_ref calls per second with one client (keep-alive connections).

Run after `npm run build`, with a Python that has urllib3:
    python3 bench/python.py            (TROVE_BENCH_SIZE=1GiB, TROVE_BENCH_RANGE_SIZE=4GiB,
                                        TROVE_BENCH_REF_CALLS=5000, TROVE_BENCH_DIR=a temp dir)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "python" / "src"), str(ROOT / "python" / "tests")]

import trove  # noqa: E402
from nodes import Node, Nodes, cli, connected, wait_until  # noqa: E402

UNITS = {"": 1, "B": 1, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}
MiB = 1 << 20


def size_env(name: str, default: str) -> int:
    text = os.environ.get(name, default).strip().upper()
    number = text.rstrip("KMGIB")
    return int(float(number) * UNITS[text[len(number):]])


def write_random_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            # a fresh prefix per block, so no two blocks are equal (chunks are content-addressed)
            piece = os.urandom(32) + block[32:min(len(block), left)]
            f.write(piece[:left])
            left -= len(piece[:left])


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fresh_peer(nodes: Nodes, name: str, source: Node) -> Node:
    node = nodes.start(name, ["--bootstrap", source.addr()])
    client = node.client()
    wait_until(lambda: connected(client, source.peer_id), f"{name} to connect")
    return node


def trove_get(node: Node, uri: str, out: Path) -> None:
    done = subprocess.run([*cli(), "--data", node.data, "get", uri, "-o", str(out)], env=node.env,
                          capture_output=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"trove get failed: {done.stderr.decode()}")


def rate(size: int, seconds: float) -> float:
    return round(size / MiB / seconds, 1)


def main() -> None:
    size = size_env("TROVE_BENCH_SIZE", "1GiB")
    range_size = size_env("TROVE_BENCH_RANGE_SIZE", "4GiB")
    ref_calls = int(os.environ.get("TROVE_BENCH_REF_CALLS", "5000"))
    base = Path(tempfile.mkdtemp(prefix="trove-bench-python-", dir=os.environ.get("TROVE_BENCH_DIR")))
    nodes = Nodes(base)
    result: dict = {"bench": "python", "blobBytes": size, "rangeBlobBytes": range_size}
    try:
        a = nodes.start("a")
        ca = a.client()
        src = base / "blob.bin"
        write_random_file(src, size)
        uri = ca.store_file(src, name="blob.bin")

        # from a peer: each method on a node that does not hold the blob yet
        b1 = fresh_peer(nodes, "b1", a)
        cb1 = b1.client()
        out = base / "out.bin"
        py_remote = timed(lambda: cb1.load_file(uri, out))
        out.unlink()
        b2 = fresh_peer(nodes, "b2", a)
        get_remote = timed(lambda: trove_get(b2, uri, out))
        out.unlink()
        b2.stop()
        result["fromPeer"] = {
            "loadFileSeconds": round(py_remote, 3), "troveGetSeconds": round(get_remote, 3),
            "loadFileMiBps": rate(size, py_remote), "troveGetMiBps": rate(size, get_remote),
            # throughput of load_file relative to trove get -o (goal: at least 0.9)
            "ratioToTroveGet": round(get_remote / py_remote, 3),
        }

        # local on b1: the client's streaming against curl, the CLI and cp
        url = f"{b1.url}/api/v1/blobs/{trove.to_sha1(uri)}"
        runs = {
            "loadFile": lambda: cb1.load_file(uri, out),
            "curl": lambda: subprocess.run(["curl", "-sf", "-o", str(out), url], check=True),
            "troveGet": lambda: trove_get(b1, uri, out),
            "cp": lambda: shutil.copyfile(src, out),
        }
        local = {}
        for name, run in runs.items():
            seconds = timed(run)
            out.unlink()
            local[name] = {"seconds": round(seconds, 3), "MiBps": rate(size, seconds)}
        for name in ("curl", "troveGet", "cp"):
            local[f"loadFileRatioTo{name[0].upper()}{name[1:]}"] = round(local[name]["seconds"] / local["loadFile"]["seconds"], 3)
        result["local"] = local
        src.unlink()

        # 1 MiB from the middle of a remote blob
        big = base / "range.bin"
        write_random_file(big, range_size)
        range_uri = ca.store_file(big, name="range.bin")
        big.unlink()
        middle = range_size // 2
        first = timed(lambda: cb1.load_bytes(range_uri, middle, middle + MiB))
        warm = [timed(lambda: cb1.load_bytes(range_uri, middle, middle + MiB)) for _ in range(20)]
        result["loadBytes1MiB"] = {"firstCallMs": round(first * 1000, 1), "localMedianMs": round(statistics.median(warm) * 1000, 2),
                                   "note": "the first call fetches the whole blob to the node before answering (issue 12)"}

        # refs, one client, keep-alive
        set_s = timed(lambda: [ca.set_ref(f"bench/k{i % 100}", {"i": i, "f": uri}) for i in range(ref_calls)])
        get_s = timed(lambda: [ca.get_ref(f"bench/k{i % 100}") for i in range(ref_calls)])
        result["refs"] = {"calls": ref_calls, "setPerSecond": round(ref_calls / set_s), "getPerSecond": round(ref_calls / get_s),
                          "meanPerSecond": round(2 * ref_calls / (set_s + get_s))}
        result["machine"] = {"cpus": os.cpu_count(), "loadAverage": [round(x, 2) for x in os.getloadavg()]}
    finally:
        nodes.stop_all()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
