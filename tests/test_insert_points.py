"""Batches of every size around the multi-row INSERT's chunk land whole and in order, with
and without worker labels, NaN and infinities included."""

from __future__ import annotations

import math

import pytest

from trackway.store.dialect import SQLITE_ROWS_PER_INSERT
from trackway.tracking.entities import MetricColumns
from trackway.tracking.service import TrackingService

CHUNK = SQLITE_ROWS_PER_INSERT
SIZES = [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 1000, 1000 - 37]


def _values(n: int) -> list[float]:
    special = [math.nan, math.inf, -math.inf]
    return [special[i % 3] if i % 17 == 0 else i * 0.25 for i in range(n)]


def _same(read: list[float | None], logged: list[float]) -> bool:
    """NaN is stored as NULL (SQLite does so by itself) and read back as None."""
    return len(read) == len(logged) and all(
        x == y or (x is None and y != y) for x, y in zip(read, logged, strict=True)
    )


@pytest.mark.parametrize("worker", ["", "rank-1"])
def test_every_batch_size_lands_whole(service: TrackingService, worker: str) -> None:
    run_id = service.create_run(service.create_experiment("sizes").experiment_id).info.run_id
    for n in SIZES:
        steps = list(range(n))
        stamps = [1_700_000_000_000 + s for s in steps]
        a, b = _values(n), [-v for v in _values(n)]
        half = n // 2
        # Each batch holds both keys: a chunk boundary falls inside the second column set.
        for part in (slice(0, half), slice(half, n)):
            service.log_batch_columns(
                run_id,
                [
                    MetricColumns(f"m{n}-a", steps[part], stamps[part], a[part], worker),
                    MetricColumns(f"m{n}-b", steps[part], stamps[part], b[part], worker),
                ],
            )
    for n in SIZES:
        for suffix, sign in (("a", 1.0), ("b", -1.0)):
            points, token = service.metric_history(run_id, f"m{n}-{suffix}", page_size=2000)
            assert token == ""
            assert list(points.steps) == list(range(n)), (n, suffix)
            assert list(points.timestamps) == [1_700_000_000_000 + s for s in range(n)]
            assert _same(list(points.values), [sign * v for v in _values(n)]), (n, suffix)
