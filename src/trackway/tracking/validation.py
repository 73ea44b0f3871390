"""Checks on every input that comes from outside, raising InvalidArgument that says what to fix.

The service calls these before anything reaches the store, so gRPC, REST and the UI
apply the same rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence, Sized

from trackway.errors import invalid
from trackway.tracking import limits
from trackway.tracking.entities import MetricColumns

_KEY_CHARS = re.compile(r"^[\w\-. /]+$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_EXPERIMENT_ID = re.compile(r"^[0-9]{1,18}$")
_REQUEST_ID = re.compile(r"^[\w\-.:]+$")
_WORKER = re.compile(r"^[A-Za-z0-9_\-.:]+$")

# A point of LogBatch or LogMetric: (key, value, timestamp, step), with an optional
# fifth entry, the worker label.
MetricPoint = tuple[str, float, int, int] | tuple[str, float, int, int, str]


def key(field_path: str, value: str) -> None:
    """MLflow's key characters, and a plain relative path: no leading `/`, and no empty,
    `.` or `..` segments, since keys also name files and URL paths."""
    if not value:
        raise invalid(field_path, "must not be empty")
    if len(value) > limits.MAX_KEY_LENGTH:
        raise invalid(field_path, f"is {len(value)} characters; at most {limits.MAX_KEY_LENGTH}")
    if not _KEY_CHARS.fullmatch(value):
        raise invalid(
            field_path,
            f"{value!r} may only hold letters, digits, underscores, dashes, periods, "
            "slashes and spaces",
        )
    if value.startswith("/") or any(seg in ("", ".", "..") for seg in value.split("/")):
        raise invalid(
            field_path,
            f"{value!r} must be a plain relative path: no '..', '.', '//' or leading '/'",
        )


def inside_root(field_path: str, uri: str, root: str) -> None:
    """An artifact location must lie below the server's artifact root: a location
    elsewhere would let a client read or write any path the server can reach."""
    below = uri.rstrip("/")[len(root) + 1 :] if uri.startswith(root + "/") else ""
    # Also as NFKC folds it: fullwidth dots (U+FF0E) must not become `..` in another layer.
    segments = below.split("/") + unicodedata.normalize("NFKC", below).split("/")
    if not below or any(s in ("", ".", "..") or "\\" in s or "%" in s for s in segments):
        raise invalid(
            field_path,
            f"{uri[:200]!r} must be a folder below the server's artifact root {root!r}, "
            "or empty to let the server choose",
        )


def text(field_path: str, value: str, max_length: int, *, required: bool = False) -> None:
    if required and not value:
        raise invalid(field_path, "is required")
    if len(value) > max_length:
        raise invalid(field_path, f"is {len(value)} characters; at most {max_length}")
    if "\x00" in value:
        raise invalid(field_path, "must not contain NUL characters")


def run_id(field_path: str, value: str) -> None:
    if not value:
        raise invalid(field_path, "is required")
    if not _RUN_ID.fullmatch(value):
        raise invalid(field_path, f"{value[:64]!r} is not a run id (32 lowercase hex characters)")


def experiment_id(field_path: str, value: str) -> int:
    """Returns the numeric id behind the API's string id."""
    if not value:
        raise invalid(field_path, "is required")
    if not _EXPERIMENT_ID.fullmatch(value):
        raise invalid(field_path, f"{value[:64]!r} is not an experiment id (decimal digits)")
    return int(value)


def request_id(value: str) -> None:
    if not value:
        return
    if len(value) > limits.MAX_REQUEST_ID_LENGTH or not _REQUEST_ID.fullmatch(value):
        raise invalid(
            "request_id",
            f"must be at most {limits.MAX_REQUEST_ID_LENGTH} characters of letters, digits "
            "and '_-.:'",
        )


def worker(field_path: str, value: str) -> None:
    """An optional label of a distributed worker (rank, host): empty, or a few safe
    characters, since it is shown in charts and compared as is."""
    if not value:
        return
    if len(value) > limits.MAX_WORKER_LENGTH or not _WORKER.fullmatch(value):
        raise invalid(
            field_path,
            f"{value[:80]!r} must be at most {limits.MAX_WORKER_LENGTH} characters of letters, "
            "digits and '_-.:'",
        )


def timestamp(field_path: str, value: int) -> None:
    if value < 0:
        raise invalid(field_path, f"{value} is negative; timestamps are epoch milliseconds")


def count(field_path: str, items: Sized, max_count: int) -> None:
    if len(items) > max_count:
        raise invalid(field_path, f"has {len(items)} entries; at most {max_count}")


def param(field_path: str, key_: str, value: str) -> None:
    key(f"{field_path}.key", key_)
    text(f"{field_path}.value", value, limits.MAX_PARAM_VALUE_LENGTH)


def tag(field_path: str, key_: str, value: str, max_value: int) -> None:
    key(f"{field_path}.key", key_)
    text(f"{field_path}.value", value, max_value)


def params(field_path: str, items: Sequence[tuple[str, str]], max_count: int) -> None:
    count(field_path, items, max_count)
    seen: dict[str, str] = {}
    for i, (k, v) in enumerate(items):
        key(f"{field_path}[{i}].key", k)
        text(f"{field_path}[{i}].value", v, limits.MAX_PARAM_VALUE_LENGTH)
        if seen.setdefault(k, v) != v:
            raise invalid(
                f"{field_path}[{i}].key", f"param {k!r} is given twice with different values"
            )


def tags(field_path: str, items: Sequence[tuple[str, str]], max_count: int, max_value: int) -> None:
    count(field_path, items, max_count)
    for i, (k, v) in enumerate(items):
        key(f"{field_path}[{i}].key", k)
        text(f"{field_path}[{i}].value", v, max_value)


def metric_columns(field_path: str, columns: Iterable[MetricColumns], max_points: int) -> int:
    """Checks keys, column lengths and timestamps; returns the number of points."""
    total = 0
    for i, col in enumerate(columns):
        key(f"{field_path}[{i}].key", col.key)
        if col.worker:
            worker(f"{field_path}[{i}].worker", col.worker)
        n = len(col.values)
        if len(col.steps) != n or len(col.timestamps) != n:
            raise invalid(
                f"{field_path}[{i}]",
                f"steps, timestamps and values have {len(col.steps)}, {len(col.timestamps)} "
                f"and {n} entries; they must have the same length",
            )
        if n and min(col.timestamps) < 0:
            raise invalid(f"{field_path}[{i}].timestamps", "must not be negative")
        total += n
    if total > max_points:
        raise invalid(field_path, f"holds {total} points; at most {max_points}")
    return total


def metric_points(field_path: str, points: Sequence[MetricPoint]) -> list[MetricColumns]:
    """Checks (key, value, timestamp, step[, worker]) points, naming each bad one by its
    index in the request, and groups them by key and worker, each group's points in
    request order."""
    # Keyed by the key alone when there is no label: this loop runs once per point.
    grouped: dict[str | tuple[str, str], MetricColumns] = {}
    for i, point in enumerate(points):
        if len(point) == 4:
            k, value, stamp, step = point
            label = ""
        else:
            k, value, stamp, step, label = point
        group = (k, label) if label else k
        col = grouped.get(group)
        if col is None:
            key(f"{field_path}[{i}].key", k)
            worker(f"{field_path}[{i}].worker", label)
            col = grouped[group] = MetricColumns(k, [], [], [], label)
        if stamp < 0:
            raise invalid(
                f"{field_path}[{i}].timestamp", f"{stamp} is negative; timestamps are epoch ms"
            )
        col.steps.append(step)  # type: ignore[attr-defined]
        col.timestamps.append(stamp)  # type: ignore[attr-defined]
        col.values.append(value)  # type: ignore[attr-defined]
    return list(grouped.values())


def page_size(field_path: str, value: int, default: int, maximum: int) -> int:
    if value < 0:
        raise invalid(field_path, f"{value} is negative")
    if value > maximum:
        raise invalid(field_path, f"{value} is over the maximum of {maximum}")
    return value or default
