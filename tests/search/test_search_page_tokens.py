"""Page tokens: exact round trips, and nothing but InvalidArgument for bad input."""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackway.errors import InvalidArgument
from trackway.search import decode_page_token, encode_page_token, query_fingerprint

FP = query_fingerprint("runs", [1, 2], "metrics.loss < 1", ["metrics.loss"], "ACTIVE_ONLY")


def _raw(payload: Any) -> str:
    data = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None],
        [0.1, -0.0, 1e-300, 1.7976931348623157e308, math.inf, -math.inf],
        [2**63 - 1, -(2**63), 0, 1234567890123],
        ["", "plain", "ünïcødé ✓", 'quo"te\\', "x" * 5000],
        [None, 3.0, 3, "3"],
    ],
)
def test_round_trip_is_exact(values: list[Any]) -> None:
    token = encode_page_token(FP, values)
    assert token.isascii() and "=" not in token and "+" not in token and "/" not in token
    decoded = decode_page_token(token, FP)
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]
    assert [math.copysign(1, v) for v in decoded if isinstance(v, float)] == [
        math.copysign(1, v) for v in values if isinstance(v, float)
    ]


@given(
    st.lists(
        st.none()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False)
        | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
        max_size=5,
    )
)
@settings(database=None, max_examples=200)
def test_round_trip_property(values: list[Any]) -> None:
    assert decode_page_token(encode_page_token(FP, values), FP) == values


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "is not a valid page token"),
        ("not a token!", "is not a valid page token"),
        ("a", "is not a valid page token"),
        ("AAAA", "is not a valid page token"),
        (_raw([1, 2]), "is not a valid page token"),
        (_raw({"v": 1, "f": FP}), "is not a valid page token"),
        (_raw({"v": 1, "f": FP, "k": [], "x": 1}), "is not a valid page token"),
        (_raw({"v": True, "f": FP, "k": []}), "is not a valid page token"),
        (_raw({"v": 2, "f": FP, "k": []}), "unsupported version"),
        (_raw({"v": 1, "f": 7, "k": []}), "is not a valid page token"),
        (_raw({"v": 1, "f": FP, "k": "abc"}), "is not a valid page token"),
        (_raw({"v": 1, "f": FP, "k": [[1]]}), "is not a valid page token"),
        (_raw({"v": 1, "f": FP, "k": [{"a": 1}]}), "is not a valid page token"),
        (_raw({"v": 1, "f": FP, "k": [True]}), "is not a valid page token"),
        (_raw({"v": 1, "f": "other", "k": []}), "was made for a different query"),
        (base64.urlsafe_b64encode(b'{"v":1,"f":"x","k":[NaN]}').decode(), "not a valid"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="), "not a valid"),
        (base64.urlsafe_b64encode(b"[" * 100000).decode(), "not a valid"),
        (base64.urlsafe_b64encode(b"1" * 5000).decode(), "not a valid"),
        ("A" * 300000, "is too long"),
    ],
)
def test_bad_tokens(token: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        decode_page_token(token, FP)
    assert str(info.value).startswith("page_token: ")
    assert message in str(info.value)


@given(st.text(max_size=300))
@settings(database=None, max_examples=300)
def test_decoding_random_text_only_raises_invalid_argument(token: str) -> None:
    with contextlib.suppress(InvalidArgument):
        decode_page_token(token, FP)


@given(st.binary(max_size=300))
@settings(database=None, max_examples=300)
def test_decoding_random_payloads_only_raises_invalid_argument(data: bytes) -> None:
    with contextlib.suppress(InvalidArgument):
        decode_page_token(base64.urlsafe_b64encode(data).decode().rstrip("="), FP)


def test_encode_refuses_values_it_cannot_round_trip() -> None:
    for bad in (math.nan, True, b"x", [1]):
        with pytest.raises(TypeError):
            encode_page_token(FP, [bad])


class _View(enum.Enum):
    ACTIVE_ONLY = 1
    ALL = 3


def test_fingerprint_is_stable_and_canonical() -> None:
    args = ("runs", [1, 2], "metrics.loss < 1", ["metrics.loss"], "ACTIVE_ONLY")
    assert query_fingerprint(*args) == FP
    # A fixed value: changing the hashing would orphan every token in flight.
    assert FP == "e938a786a45c1f97af46774c4c0e5406"
    assert query_fingerprint("a", (1, 2)) == query_fingerprint("a", [1, 2])
    assert query_fingerprint({1, 2, 3}) == query_fingerprint({3, 2, 1})
    assert query_fingerprint({"a": 1, "b": 2}) == query_fingerprint({"b": 2, "a": 1})
    assert query_fingerprint(_View.ALL) != query_fingerprint(_View.ACTIVE_ONLY)
    distinct = {
        query_fingerprint(*parts)
        for parts in [("a",), ("b",), ("a", None), (1,), ("1",), (True,), ([1],), (1.0,)]
    }
    assert len(distinct) == 8
    with pytest.raises(TypeError):
        query_fingerprint(object())
