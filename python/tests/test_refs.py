"""Refs through a real node: set, get, versions, history, removal and queries."""

from __future__ import annotations

import math
import uuid

import pytest

import trove


def key(name: str) -> str:
    """A key no other test uses (the session's nodes are shared)."""
    return f"t/{uuid.uuid4().hex[:12]}/{name}"


def test_set_get_round_trip(client_a: trove.Client) -> None:
    k = key("spike-sorting")
    obj = {"spikes": "sha1://" + "1" * 40 + "/spikes.npy", "n": [1, 2.5, None, True], "s": "é"}
    record = client_a.set_ref(k, obj, {"priority": 5, "project": "mouse7"})
    assert record["key"] == k and record["version"] == 1
    assert client_a.get_ref(k) == (obj, {"priority": 5, "project": "mouse7"})
    full = client_a.get_ref_record(k)
    assert full["by"] and full["setAt"]


def test_versions_history_and_removal(client_a: trove.Client) -> None:
    k = key("run")
    client_a.set_ref(k, "first")
    client_a.set_ref(k, "second", {"note": "x"})
    assert client_a.get_ref(k) == ("second", {"note": "x"})
    assert client_a.get_ref(k, version=1) == ("first", {})
    removed = client_a.del_ref(k)
    assert removed["version"] == 3
    with pytest.raises(trove.RefNotFoundError):
        client_a.get_ref(k)
    history = client_a.ref_history(k)
    assert [h["version"] for h in history] == [1, 2, 3]
    assert history[-1].get("deleted") is True
    with pytest.raises(trove.VersionNotFoundError):
        client_a.get_ref(k, version=9)


def test_key_ending_in_history_is_a_key(client_a: trove.Client) -> None:
    k = key("history")
    client_a.set_ref(k, 1)
    client_a.set_ref(k, 2)
    assert client_a.get_ref(k)[0] == 2
    assert [h["obj"] for h in client_a.ref_history(k)] == [1, 2]


def test_get_ref_keys_queries(client_a: trove.Client) -> None:
    base = key("q")
    blob = client_a.store_text("referenced " + base)
    client_a.set_ref(f"{base}/a", {"file": blob}, {"priority": 5, "project": "mouse7"})
    client_a.set_ref(f"{base}/b", {"other": 1}, {"priority": 1, "tag": "5"})
    client_a.set_ref(f"{base}/c", [blob], {"priority": 5})
    assert client_a.get_ref_keys(base + "/") == [f"{base}/a", f"{base}/b", f"{base}/c"]
    assert client_a.get_ref_keys({"prefix": base + "/", "meta": {"priority": 5}}) == [f"{base}/a", f"{base}/c"]
    assert client_a.get_ref_keys(prefix=base + "/", refs_to=blob) == [f"{base}/a", f"{base}/c"]
    assert client_a.get_ref_keys({"refs_to": blob}) == [f"{base}/a", f"{base}/c"]
    assert client_a.get_ref_keys(prefix=base, meta={"project": "mouse7"}) == [f"{base}/a"]
    # "5" the string is not 5 the number
    assert client_a.get_ref_keys(prefix=base, meta={"tag": "5"}) == [f"{base}/b"]
    assert client_a.get_ref_keys(prefix=base, meta={"tag": 5}) == []
    assert f"{base}/a" in client_a.get_ref_keys({})
    assert [r["key"] for r in client_a.list_refs(prefix=base + "/", meta={"priority": 1})] == [f"{base}/b"]


def test_get_ref_keys_pages_through_everything(client_a: trove.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    base = key("paged")
    for i in range(7):
        client_a.set_ref(f"{base}/k{i}", i)
    # pages of 3: three requests, every key once, in order
    monkeypatch.setattr(trove.client, "LIST_PAGE", 3)
    assert client_a.get_ref_keys(base + "/") == [f"{base}/k{i}" for i in range(7)]


def test_module_level_functions_use_the_default_node(node_a, client_a: trove.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROVE_DATA", node_a.data)
    k = key("module")
    trove.set_ref(k, {"x": 1}, {"priority": 2})
    assert trove.get_ref(k) == ({"x": 1}, {"priority": 2})
    assert trove.get_ref_keys(k) == [k]
    assert trove.ref_history(k)[0]["obj"] == {"x": 1}
    trove.del_ref(k)
    with pytest.raises(trove.RefNotFoundError):
        client_a.get_ref(k)
    assert trove.default_client().url == client_a.url


@pytest.mark.parametrize("bad", ["lab/../x", "lab//x", "/lab", "lab/", "", "lab/x y", "a" * 513, None, 5])
def test_bad_keys_fail_before_any_request(client_a: trove.Client, bad: object) -> None:
    with pytest.raises(trove.InvalidKeyError):
        client_a.set_ref(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(trove.InvalidKeyError):
        client_a.get_ref(bad)  # type: ignore[arg-type]
    with pytest.raises(trove.InvalidKeyError):
        client_a.del_ref(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("obj", [{1, 2}, {"a": object()}, {"x": math.nan}, [math.inf], b"bytes"])
def test_values_that_are_not_json_are_refused(client_a: trove.Client, obj: object) -> None:
    k = key("notjson")
    with pytest.raises(trove.InvalidJsonError):
        client_a.set_ref(k, obj)
    with pytest.raises(trove.RefNotFoundError):
        client_a.get_ref(k)


def test_malformed_uri_in_a_ref_is_refused(client_a: trove.Client) -> None:
    k = key("baduri")
    with pytest.raises(trove.InvalidUriError):
        client_a.set_ref(k, {"f": "sha1://abc"})
    with pytest.raises(trove.RefNotFoundError):
        client_a.get_ref(k)


def test_bad_meta_and_versions(client_a: trove.Client) -> None:
    k = key("meta")
    with pytest.raises(trove.InvalidArgumentError):
        client_a.set_ref(k, 1, meta=["not", "a", "dict"])  # type: ignore[arg-type]
    # the node checks meta fields: priority must be an integer
    with pytest.raises(trove.InvalidArgumentError):
        client_a.set_ref(k, 1, meta={"priority": "high"})
    client_a.set_ref(k, 1)
    for bad in (0, -1, 1.5, "1", True):
        with pytest.raises(trove.InvalidArgumentError):
            client_a.get_ref(k, version=bad)  # type: ignore[arg-type]


def test_bad_queries(client_a: trove.Client) -> None:
    with pytest.raises(trove.InvalidArgumentError):
        client_a.get_ref_keys({"prefx": "lab/"})
    with pytest.raises(trove.InvalidKeyError):
        client_a.get_ref_keys("lab//")
    with pytest.raises(trove.InvalidUriError):
        client_a.get_ref_keys(refs_to="sha1://abc")
    with pytest.raises(trove.InvalidArgumentError):
        client_a.get_ref_keys(meta=["priority"])  # type: ignore[arg-type]
