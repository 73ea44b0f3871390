"""JSON in and out, with orjson: the gateway parses and writes every body through here.

MLflow writes doubles the way protobuf's JSON mapping does: NaN and the infinities are
the strings "NaN", "Infinity" and "-Infinity", and int64 fields are plain numbers. orjson
would write a non-finite float as null, which MLflow's client reads as 0, so `number`
turns those into protobuf's strings before a value is written.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from trackway.errors import invalid

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def number(value: float) -> float | str:
    """A double as protobuf's JSON mapping writes it."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def parse_number(field_path: str, value: Any) -> float:
    """A double from JSON: a number, or a numeric or non-finite string (never a bool)."""
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise invalid(field_path, f"{str(value)[:100]!r} is not a number")


def parse_int(field_path: str, value: Any) -> int:
    """An int64 from JSON or a query string: a whole number or a string of digits."""
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise invalid(field_path, f"{str(value)[:100]!r} is not an integer")
