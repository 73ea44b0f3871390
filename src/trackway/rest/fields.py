"""A request's fields, from a JSON body or a query string, read with MLflow's leniency.

MLflow's clients send POST, PATCH and DELETE fields as a JSON object and GET fields as a
query string, where a repeated field is a repeated key and every value is a string. Ids
may arrive as strings or numbers, int64 values as numbers or digit strings, and doubles
as numbers or protobuf's "NaN"/"Infinity" strings. A missing scalar reads as its empty
value; the service decides whether empty is allowed, except for the fields MLflow marks
required, which `text(..., required=True)` checks with MLflow's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from trackway.errors import invalid
from trackway.rest import jsonio
from trackway.rest.errors import malformed


class Fields:
    __slots__ = ("_data", "_query")

    def __init__(self, data: Mapping[str, Any], *, query: bool = False) -> None:
        self._data = data
        self._query = query

    @classmethod
    def from_query(cls, raw: bytes) -> Fields:
        text = raw.decode("utf-8", errors="replace")
        return cls(parse_qs(text, keep_blank_values=True) if text else {}, query=True)

    @classmethod
    def from_body(cls, body: bytes) -> Fields:
        if not body.strip():
            return cls({})
        try:
            data = jsonio.loads(body)
        except ValueError as exc:
            raise malformed(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise malformed("the request body must be a JSON object")
        return cls(data)

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def raw(self, name: str) -> Any:
        value = self._data.get(name)
        if self._query and isinstance(value, list):
            return value[-1] if value else None
        return value

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise invalid(name, f"Missing value for required parameter '{name}'")
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise invalid(name, f"must be a string, not {type(value).__name__}")

    def integer(self, name: str, default: int = 0) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise invalid(name, "must be an integer, not a boolean")
        return jsonio.parse_int(name, value)

    def number(self, name: str, *, required: bool = False) -> float:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise invalid(name, f"Missing value for required parameter '{name}'")
            return 0.0
        if isinstance(value, bool):
            raise invalid(name, "must be a number, not a boolean")
        return jsonio.parse_number(name, value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(name, f"{str(value)[:100]!r} is not true or false")

    def texts(self, name: str) -> list[str]:
        value = self._data.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise invalid(f"{name}[{i}]", f"must be a string, not {type(item).__name__}")
            out.append(item)
        return out

    def objects(self, name: str) -> list[dict[str, Any]]:
        value = self._data.get(name)
        if value is None:
            return []
        if self._query or not isinstance(value, list):
            raise invalid(name, "must be a JSON list of objects")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise invalid(f"{name}[{i}]", "must be a JSON object")
        return value

    def obj(self, name: str) -> dict[str, Any]:
        value = self._data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(name, "must be a JSON object")
        return value

    def run_id(self, *, required: bool = True) -> str:
        """`run_id`, or the deprecated `run_uuid` that older clients send instead."""
        found = self.text("run_id") or self.text("run_uuid")
        if not found and required:
            raise invalid("run_id", "Missing value for required parameter 'run_id'")
        return found


def pairs(items: list[dict[str, Any]], name: str) -> list[tuple[str, str]]:
    """`[{"key": k, "value": v}, ...]` as (key, value) pairs; values are strings."""
    out = []
    for i, item in enumerate(items):
        key, value = item.get("key"), item.get("value", "")
        if not isinstance(key, str):
            raise invalid(f"{name}[{i}].key", "must be a string")
        if value is None:
            value = ""
        elif not isinstance(value, str):
            value = str(value)
        out.append((key, value))
    return out
