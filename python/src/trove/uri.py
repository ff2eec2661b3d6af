"""``sha1://`` URIs and ref keys, checked with the same rules as the node (src/uri.ts,
src/refs/keys.ts), so bad input fails here, before any request, with the node's error codes."""

from __future__ import annotations

import re
from typing import Any, Iterable, List, NamedTuple, Optional, Set, Tuple
from urllib.parse import parse_qs, quote, unquote_to_bytes

from .constants import MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH
from .errors import InvalidKeyError, InvalidUriError

SCHEME = "sha1://"
_HEX40 = re.compile(r"[0-9a-f]{40}")
_ANY_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_ANY_HEX = re.compile(r"[0-9a-fA-F]*")
_SEGMENT = re.compile(r"[A-Za-z0-9._@+=,~-]+")
# what JavaScript's decodeURIComponent refuses: a "%" not followed by two hex digits
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# what encodeURIComponent leaves as is besides letters, digits and "-_.~" (which quote keeps too)
_URI_COMPONENT_SAFE = "!'()*"


class ParsedUri(NamedTuple):
    """The parts of a ``sha1://`` URI. ``name`` and ``label`` are informational only."""
    sha1: str
    name: Optional[str] = None
    label: Optional[str] = None


def _truncate(s: str) -> str:
    return s if len(s) <= 80 else s[:77] + "..."


def _check_uri_hash(digest: str, uri: str) -> None:
    """The hash part of a sha1:// or sha1dir:// URI: 40 lowercase hex, or an error saying what is wrong."""
    if not _HEX40.fullmatch(digest):
        if _ANY_HEX40.fullmatch(digest):
            raise InvalidUriError(f"sha1 in URI must be lowercase: {_truncate(uri)}")
        if _ANY_HEX.fullmatch(digest):
            raise InvalidUriError(f"sha1 in URI has {len(digest)} hex characters, expected 40: {_truncate(uri)}")
        raise InvalidUriError(f"sha1 in URI is not hex: {_truncate(uri)}")


def _decode_part(raw: str, uri: str, what: str) -> str:
    """Percent-decodes a URI part as JavaScript's decodeURIComponent does, refusing what it refuses."""
    if _BAD_PERCENT.search(raw):
        raise InvalidUriError(f"{what} in URI is not valid percent-encoding: {_truncate(uri)}")
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUriError(f"{what} in URI is not valid percent-encoding: {_truncate(uri)}") from None


def is_sha1_hex(value: Any) -> bool:
    """Whether ``value`` is a bare hash: 40 lowercase hex characters."""
    return isinstance(value, str) and _HEX40.fullmatch(value) is not None


def check_sha1_hex(value: Any) -> str:
    """Returns ``value`` if it is a bare hash, else raises InvalidUriError saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidUriError(f"sha1 must be a string, got {type(value).__name__}")
    if _HEX40.fullmatch(value):
        return value
    if _ANY_HEX40.fullmatch(value):
        raise InvalidUriError(f"sha1 must be lowercase hex: {value}")
    raise InvalidUriError(f"not a sha1 (expected 40 lowercase hex characters): {_truncate(value)}")


def parse_uri(uri: Any) -> ParsedUri:
    """Parses ``sha1://<40 lowercase hex>[/<file name>][?label=...]``.

    Anything else raises :class:`~trove.InvalidUriError` naming what is wrong.
    """
    if not isinstance(uri, str):
        raise InvalidUriError(f"URI must be a string, got {type(uri).__name__}")
    if not uri.startswith(SCHEME):
        raise InvalidUriError(f"not a sha1:// URI: {_truncate(uri)}")
    rest = uri[len(SCHEME):]
    label: Optional[str] = None
    q = rest.find("?")
    if q >= 0:
        values = parse_qs(rest[q + 1:], keep_blank_values=True).get("label")
        label = values[0] if values else None
        rest = rest[:q]
    slash = rest.find("/")
    digest = rest[:slash] if slash >= 0 else rest
    name = rest[slash + 1:] if slash >= 0 else None
    _check_uri_hash(digest, uri)
    if name is not None:
        name = _decode_part(name, uri, "file name")
        if name == "":
            name = None
    return ParsedUri(digest, name, label)


def to_sha1(uri_or_hash: Any) -> str:
    """The hash of a ``sha1://`` URI, of a directory's ``sha1dir://<root>`` (its manifest), or of
    a bare 40-hex hash. A path inside a directory names a different blob: parse it with
    :func:`parse_dir_uri` instead."""
    if isinstance(uri_or_hash, str) and uri_or_hash.startswith(DIR_SCHEME):
        parsed = parse_dir_uri(uri_or_hash)
        if parsed.path:
            raise InvalidUriError(f"a path inside a directory is not a blob's hash: {_truncate(uri_or_hash)}")
        return parsed.sha1
    if isinstance(uri_or_hash, str) and not uri_or_hash.startswith(SCHEME):
        return check_sha1_hex(uri_or_hash)
    return parse_uri(uri_or_hash).sha1


#: A directory: ``sha1dir://<manifest sha1>[/sub/path]`` (docs/formats.md).
DIR_SCHEME = "sha1dir://"


class ParsedDirUri(NamedTuple):
    sha1: str
    #: Path segments below the root, percent-decoded; empty for the root.
    path: Tuple[str, ...]


def parse_dir_uri(uri: Any) -> ParsedDirUri:
    """Parses ``sha1dir://<hash>[/sub/path]`` as the node does (src/dirs/uri.ts): the hash follows
    the sha1:// rules, each path segment is percent-decoded and must be a valid entry name (no
    ``.``, ``..``, NUL or ``/``), and a trailing ``/`` is allowed."""
    if not isinstance(uri, str):
        raise InvalidUriError("URI must be a string")
    if not uri.startswith(DIR_SCHEME):
        raise InvalidUriError(f"not a sha1dir:// URI: {_truncate(uri)}")
    rest = uri[len(DIR_SCHEME):]
    if "?" in rest or "#" in rest:
        raise InvalidUriError(f"sha1dir:// URIs take no query or fragment (percent-encode ? and # in names): {_truncate(uri)}")
    hash_part, slash, path = rest.partition("/")
    _check_uri_hash(hash_part, uri)
    segments: List[str] = []
    if slash:
        raw = path.split("/")
        for i, seg in enumerate(raw):
            if seg == "" and i == len(raw) - 1:
                continue
            name = _decode_part(seg, uri, "path")
            if name in ("", ".", "..") or "/" in name or "\0" in name:
                raise InvalidUriError(f"bad path in URI (segment {name!r}): {_truncate(uri)}")
            segments.append(name)
    return ParsedDirUri(hash_part, tuple(segments))


def format_dir_uri(sha1: str, path: Iterable[str] = ()) -> str:
    """``sha1dir://<hash>/<segment>...`` with each segment encoded as the node does."""
    check_sha1_hex(sha1)
    return DIR_SCHEME + sha1 + "".join("/" + quote(s, safe=_URI_COMPONENT_SAFE) for s in path)


def format_uri(sha1: str, name: Optional[str] = None) -> str:
    """``sha1://<hash>`` or ``sha1://<hash>/<name>`` with the name percent-encoded as the node does
    (JavaScript's encodeURIComponent)."""
    check_sha1_hex(sha1)
    if not name:
        return SCHEME + sha1
    return SCHEME + sha1 + "/" + quote(name, safe=_URI_COMPONENT_SAFE)


def find_references(value: Any, out: Optional[Set[str]] = None) -> Set[str]:
    """Every ``sha1://`` string inside a JSON-like value, as hashes. A malformed one is an
    InvalidUriError, as the node refuses it in a ref (it would otherwise not protect its blob)."""
    if out is None:
        out = set()
    if isinstance(value, str):
        if value.startswith(SCHEME):
            out.add(parse_uri(value).sha1)
        elif value.startswith(DIR_SCHEME):
            # a directory (or a path inside one) keeps its whole tree: the root manifest is the reference
            out.add(parse_dir_uri(value).sha1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            find_references(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            find_references(v, out)
    return out


def check_key(key: Any) -> str:
    """Returns ``key`` if it is a valid ref key (``lab/mouse7/run3``), else raises InvalidKeyError.

    A key is non-empty segments of letters, digits and ``._@+=,~-`` joined by single slashes,
    without ``.`` or ``..`` segments, at most 512 characters.
    """
    if not isinstance(key, str) or key == "":
        raise InvalidKeyError("ref key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"ref key is longer than {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if segment == "":
            raise InvalidKeyError(f'ref key has an empty path segment (leading, trailing or double "/"): {key}')
        if segment in (".", ".."):
            raise InvalidKeyError(f'ref key may not contain "." or ".." segments: {key}')
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKeyError(f"ref key segment longer than {MAX_SEGMENT_LENGTH} characters: {key}")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKeyError(f'ref key may only use letters, digits, "/" and ._@+=,~- : {key}')
    return key


def check_prefix(prefix: Any) -> str:
    """A listing prefix: a key, a key with a trailing slash, or empty for everything."""
    if prefix is None or prefix == "":
        return ""
    if not isinstance(prefix, str):
        raise InvalidKeyError("prefix must be a string")
    check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix
