"""URIs and keys are checked locally with the node's rules: the same inputs pass and fail here
as in the node (checked against a real node, bypassing the local check)."""

from __future__ import annotations

from typing import Callable
from urllib.parse import quote

import pytest

import trove
from trove.uri import check_key, check_prefix, find_references, format_uri, parse_uri, to_sha1

H = "4a2f" + "0" * 36

URIS = [
    f"sha1://{H}",
    f"sha1://{H}/results.csv",
    f"sha1://{H}/my%20file.txt",
    f"sha1://{H}/dir/inner.txt",
    f"sha1://{H}/",
    f"sha1://{H}?label=run%207",
    f"sha1://{H}/a.csv?label=x",
    f"sha1://{H}/file.npy?manifest=f72e9a974ea212b973b132e766802a21795a58db",
    f"sha1://{H}?label=a&label=b&other",
    f"sha1://{H.upper()}",
    f"sha1://{H[:39]}",
    f"sha1://{H}0",
    f"sha1://{H[:39]}g",
    f"sha1://{H}/bad%zzname",
    f"sha1://{H}/bad%e9",
    f"sha1://{H}/trailing%",
    "sha1://",
    "sha1:/" + H,
    "SHA1://" + H,
    "md5://" + H,
    H,
    "",
]

KEYS = [
    "lab/mouse7/spike-sorting",
    "a",
    "a.b_c@d+e=f,g~h-i",
    "lab//x",
    "/lab",
    "lab/",
    "lab/../x",
    "lab/./x",
    "..",
    "lab/x y",
    "lab/é",
    "a" * 128,
    "a" * 129,
    "/".join(["a" * 100] * 5) + "/" + "a" * 7,
    "/".join(["a" * 100] * 5) + "/" + "a" * 12,
    "runs/history",
]


def accepted(call: Callable[[], object], refused: type) -> bool:
    """Whether ``call`` goes through, or raises ``refused`` (anything else fails the test)."""
    try:
        call()
    except refused:
        return False
    return True


@pytest.mark.parametrize("uri", URIS)
def test_uri_rules_match_the_node(client_a: trove.Client, uri: str) -> None:
    local_ok = accepted(lambda: parse_uri(uri), trove.InvalidUriError)
    # the node checks every sha1:// string in a ref's obj strictly; send it past the local check
    node_ok = accepted(lambda: client_a._http.json("PUT", "/refs/uri-rules", json={"obj": {"u": uri}, "meta": {}}),
                       trove.InvalidUriError)
    if uri.startswith("sha1://"):
        assert local_ok == node_ok, f"{uri!r}: local {local_ok}, node {node_ok}"
    else:
        # other strings are not references at all: the node stores them, parse_uri refuses them
        assert node_ok and not local_ok


@pytest.mark.parametrize("key", KEYS)
def test_key_rules_match_the_node(client_a: trove.Client, key: str) -> None:
    local_ok = accepted(lambda: check_key(key), trove.InvalidKeyError)
    node_ok = accepted(lambda: client_a._http.json("PUT", "/refs/" + quote(key, safe=""), json={"obj": 1, "meta": {}}),
                       trove.InvalidKeyError)
    assert local_ok == node_ok, f"{key!r}: local {local_ok}, node {node_ok}"


def test_parse_uri_parts() -> None:
    assert parse_uri(f"sha1://{H}") == (H, None, None)
    assert parse_uri(f"sha1://{H}/my%20file.txt") == (H, "my file.txt", None)
    assert parse_uri(f"sha1://{H}/a.csv?label=run%207") == (H, "a.csv", "run 7")
    assert parse_uri(f"sha1://{H}/").name is None


def test_bad_uris_say_what_is_wrong() -> None:
    with pytest.raises(trove.InvalidUriError, match="3 hex characters, expected 40"):
        parse_uri("sha1://abc")
    with pytest.raises(trove.InvalidUriError, match="lowercase"):
        parse_uri(f"sha1://{H.upper()}")
    with pytest.raises(trove.InvalidUriError, match="not a sha1:// URI"):
        parse_uri("http://example.com")
    with pytest.raises(trove.InvalidUriError, match="must be a string"):
        parse_uri(None)
    with pytest.raises(trove.InvalidUriError):
        to_sha1("xyz")
    # an InvalidUriError is also a ValueError, for code that catches those
    with pytest.raises(ValueError):
        to_sha1(H.upper())


def test_format_uri_encodes_names_as_the_node_does() -> None:
    assert format_uri(H) == f"sha1://{H}"
    assert format_uri(H, "my file (1).txt") == f"sha1://{H}/my%20file%20(1).txt"
    assert format_uri(H, "a&b=c.csv") == f"sha1://{H}/a%26b%3Dc.csv"
    assert parse_uri(format_uri(H, "é ü/x")).name == "é ü/x"


def test_find_references_is_strict() -> None:
    assert find_references({"a": [f"sha1://{H}/x", {"b": "text"}], "c": f"sha1://{H}"}) == {H}
    with pytest.raises(trove.InvalidUriError):
        find_references({"a": ["sha1://nothex"]})


def test_prefixes() -> None:
    assert check_prefix(None) == ""
    assert check_prefix("lab/") == "lab/"
    with pytest.raises(trove.InvalidKeyError):
        check_prefix("lab//")
