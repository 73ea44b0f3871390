"""Opaque page tokens that carry keyset state and pin the query they were made for.

A token is URL-safe base64 (no padding) of compact JSON `{"v": 1, "f": fingerprint,
"k": [last sort values]}`. Tokens are not signed: a client can forge one, but only for
the query it already may run, and decoding checks the shape and the value types (and
`keyset_after` checks them against the sort keys), so a forged token can at worst skip
rows. Values are None, str, int or float; floats round-trip exactly through JSON's
shortest repr, and +/-Infinity (a legal metric value) are kept, NaN never appears.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from trackway.errors import InvalidArgument, invalid

_VERSION = 1
# Sort values include param and tag values, which can be long texts.
MAX_TOKEN_CHARS = 256 * 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_FINGERPRINT_SALT = "trackway.search/1"


def encode_page_token(fingerprint: str, last: Sequence[Any]) -> str:
    """The token for the page that follows the row whose sort values are `last`."""
    values = list(last)
    for value in values:
        if not _is_value(value):
            raise TypeError(f"cannot put {type(value).__name__} {value!r} in a page token")
    payload = {"v": _VERSION, "f": fingerprint, "k": values}
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_page_token(token: str, fingerprint: str) -> list[Any]:
    """The sort values in `token`, after checking it was made for `fingerprint`."""
    if not isinstance(token, str):
        raise _bad("is not a valid page token")
    if len(token) > MAX_TOKEN_CHARS:
        raise _bad("is too long")
    if not _BASE64URL.fullmatch(token):
        raise _bad("is not a valid page token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode("utf-8"), parse_constant=_parse_constant)
    except (binascii.Error, ValueError, RecursionError):
        raise _bad("is not a valid page token") from None
    if not (
        isinstance(payload, dict)
        and payload.keys() == {"v", "f", "k"}
        and type(payload["v"]) is int
        and isinstance(payload["f"], str)
        and isinstance(payload["k"], list)
    ):
        raise _bad("is not a valid page token")
    if payload["v"] != _VERSION:
        raise _bad("has an unsupported version")
    if payload["f"] != fingerprint:
        raise _bad("was made for a different query (filter, order or scope changed)")
    values: list[Any] = payload["k"]
    if not all(_is_value(value) for value in values):
        raise _bad("is not a valid page token")
    return values


def query_fingerprint(*parts: Any) -> str:
    """A stable hash of the arguments that define a query (filter, order_by, scope...).

    Lists and tuples hash alike, sets and dicts regardless of order, enums by class and
    member name. Other types are a programming error (TypeError): their repr is not
    guaranteed stable across processes.
    """
    canonical = json.dumps([_FINGERPRINT_SALT, _canonical(list(parts))], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _canonical(part: Any) -> Any:
    if part is None or isinstance(part, (bool, int, str)):
        return part
    if isinstance(part, float):
        return part if math.isfinite(part) else {"float": repr(part)}
    if isinstance(part, enum.Enum):
        return {"enum": f"{type(part).__qualname__}.{part.name}"}
    if isinstance(part, (list, tuple)):
        return [_canonical(item) for item in part]
    if isinstance(part, (set, frozenset)):
        return {"set": sorted(json.dumps(_canonical(item)) for item in part)}
    if isinstance(part, dict):
        items = [[_canonical(key), _canonical(value)] for key, value in part.items()]
        return {"dict": sorted(items, key=json.dumps)}
    raise TypeError(f"cannot fingerprint {type(part).__name__}")


def _is_value(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isnan(value)
    return value is None or (isinstance(value, (int, str)) and not isinstance(value, bool))


def _parse_constant(name: str) -> float:
    if name == "NaN":
        raise ValueError("NaN is not a sort value")
    return float(name)


def _bad(description: str) -> InvalidArgument:
    return invalid("page_token", description)
