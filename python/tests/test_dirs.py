"""Folders as one sha1dir:// URI: stored on one node, listed and loaded through another.

The manifest encoder below is a second implementation of docs/formats.md written from the spec
alone: the node and it must give the same hash for the same tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Dict, List

import pytest

import trove
from nodes import random_bytes


def reference_manifest_sha1(folder: Path) -> str:
    """The directory's sha1 by docs/formats.md: canonical JSON, entries sorted by UTF-8 name bytes,
    a folder's size the total of the files below it, mtimes left out."""
    return _encode(folder)[0]


def _encode(folder: Path) -> "tuple[str, int]":
    entries: List[Dict[str, object]] = []
    total = 0
    for child in folder.iterdir():
        st = child.lstat()
        if stat.S_ISDIR(st.st_mode):
            sha1, size = _encode(child)
            entries.append({"exec": False, "kind": "dir", "name": child.name, "sha1": sha1, "size": size})
        else:
            data = child.read_bytes()
            size = len(data)
            entries.append({"exec": bool(st.st_mode & stat.S_IXUSR), "kind": "file", "name": child.name,
                            "sha1": hashlib.sha1(data).hexdigest(), "size": size})
        total += size
    entries.sort(key=lambda e: str(e["name"]).encode("utf-8"))
    text = json.dumps({"entries": entries, "type": "trove/dir", "version": 1}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest(), total


def make_tree(root: Path) -> Dict[str, bytes]:
    files = {
        "README.txt": b"spike sorting run 3\n",
        "units/unit-01.npy": random_bytes(70_000, seed=41),
        "units/unit-02.npy": random_bytes(9 * 1024 * 1024 + 3, seed=42),
        "figures/Ölfilm é.png": random_bytes(5_000, seed=43),
        "figures/z/deep.bin": b"",
        "run.sh": b"#!/bin/sh\necho run\n",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "run.sh").chmod(0o755)
    (root / "empty").mkdir()
    return files


def same_tree(a: Path, b: Path) -> None:
    def walk(root: Path) -> Dict[str, object]:
        out: Dict[str, object] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            for d in dirnames:
                out[os.path.join(rel, d)] = "dir"
            for f in filenames:
                p = Path(dirpath) / f
                out[os.path.join(rel, f)] = (p.read_bytes(), bool(p.stat().st_mode & stat.S_IXUSR))
        return out
    assert walk(a) == walk(b)


def test_store_on_a_list_and_load_on_b(client_a: trove.Client, client_b: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "run3"
    make_tree(src)
    uri = client_a.store_dir(src, ref="lab/dirs/run3")
    assert uri.startswith("sha1dir://")
    # another implementation of the format gives the same identity
    assert trove.parse_dir_uri(uri).sha1 == reference_manifest_sha1(src)
    # the ref holds the folder under its name
    assert client_a.get_ref("lab/dirs/run3")[0] == {"run3": uri}

    listing = {e["name"]: e for e in client_b.list_dir(uri)}
    assert sorted(listing) == ["README.txt", "empty", "figures", "run.sh", "units"]
    assert listing["units"]["kind"] == "dir" and listing["units"]["size"] == 70_000 + 9 * 1024 * 1024 + 3
    assert listing["run.sh"]["exec"] is True and listing["README.txt"]["exec"] is False
    assert listing["README.txt"]["local"] is False
    sub = client_b.list_dir(uri + "/figures")
    assert [e["name"] for e in sub] == ["z", "Ölfilm é.png"]

    out = client_b.load_dir(uri, tmp_path / "on-b")
    assert out == str(tmp_path / "on-b")
    same_tree(src, Path(out))
    # a folder inside, and a file inside
    part = client_b.load_dir(uri + "/units", tmp_path / "units-only")
    same_tree(src / "units", Path(part))
    name = trove.format_dir_uri(trove.parse_dir_uri(uri).sha1, ["figures", "Ölfilm é.png"])
    assert client_b.list_dir(name)[0]["kind"] == "file"
    single = client_b.load_dir(name, tmp_path / "one.png")
    assert Path(single).read_bytes() == (src / "figures" / "Ölfilm é.png").read_bytes()


def test_an_existing_destination_is_kept_unless_forced(client_a: trove.Client, client_b: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    make_tree(src)
    uri = client_a.store_dir(src)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(trove.TroveError) as caught:
        client_b.load_dir(uri, dest)
    assert caught.value.code == "FILE_EXISTS"
    assert (dest / "mine.txt").read_text() == "keep me"
    client_b.load_dir(uri, dest, force=True)
    same_tree(src, dest)


def test_load_dir_without_dest_uses_the_cache(client_a: trove.Client, client_b: trove.Client, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROVE_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "cached"
    make_tree(src)
    uri = client_a.store_dir(src)
    first = client_b.load_dir(uri)
    assert first.startswith(str(tmp_path / "cache"))
    same_tree(src, Path(first))
    assert client_b.load_dir(uri) == first


def test_progress_reaches_the_callback(client_a: trove.Client, client_b: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "progress"
    files = make_tree(src)
    seen: List["tuple[int, int]"] = []
    uri = client_a.store_dir(src, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (sum(len(d) for d in files.values()), sum(len(d) for d in files.values()))
    loaded: List["tuple[int, int]"] = []
    client_b.load_dir(uri, tmp_path / "p-out", progress=lambda done, total: loaded.append((done, total)))
    assert loaded and loaded[-1][0] == loaded[-1][1]


def test_pin_and_why_name_the_directory(client_a: trove.Client, tmp_path: Path) -> None:
    src = tmp_path / "pinned"
    make_tree(src)
    uri = client_a.store_dir(src, pin=True)
    root = trove.parse_dir_uri(uri).sha1
    readme = [e for e in client_a.list_dir(uri) if e["name"] == "README.txt"][0]
    why = client_a.why(readme["sha1"])
    assert why["kept"] is True
    assert root in json.dumps(why)
    client_a.unpin(uri)


def test_bad_input(client_a: trove.Client, tmp_path: Path) -> None:
    h = "a" * 40
    for bad in ["sha1dir://" + h.upper(), "sha1dir://abc", f"sha1dir://{h}/../x", f"sha1dir://{h}/%ff", "sha1://" + h]:
        with pytest.raises(trove.InvalidUriError):
            client_a.list_dir(bad)
        with pytest.raises(trove.InvalidUriError):
            client_a.load_dir(bad, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(trove.TroveFileNotFoundError):
        client_a.store_dir(tmp_path / "missing")
    with pytest.raises(trove.InvalidArgumentError):
        client_a.store_dir(tmp_path, meta={"priority": 1})
    # a symlink inside is refused (nothing stored), or followed when asked and inside the tree
    linked = tmp_path / "linked"
    make_tree(linked)
    os.symlink("README.txt", linked / "link.txt")
    with pytest.raises(trove.InvalidDirEntryError):
        client_a.store_dir(linked)
    followed = client_a.store_dir(linked, follow_symlinks=True)
    entry = [e for e in client_a.list_dir(followed) if e["name"] == "link.txt"][0]
    assert entry["sha1"] == hashlib.sha1((linked / "README.txt").read_bytes()).hexdigest()
    # a directory that does not exist anywhere: the node says so
    with pytest.raises(trove.TroveError):
        client_a.list_dir("sha1dir://" + "0" * 40)
