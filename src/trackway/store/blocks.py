"""Block summaries of metric series: the lowest and highest point per 2**BLOCK_BITS steps.

The writer adds each batch's summaries in the transaction that appends its points, with
one bulk upsert that merges them into the stored ones. For the usual batch, whose steps
only grow, each block is a contiguous slice and its summary costs a few C-level passes
(min, max, index) over that slice; only unsorted batches take a per-point path.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from trackway.store import driver
from trackway.store.schema import BLOCK_BITS
from trackway.tracking.entities import MetricColumns

Row = tuple[int, int, int, Any, Any, Any, Any, Any, Any]

_UPSERT = (
    "INSERT INTO metric_blocks (series_id, block, count, min_value, min_step, min_timestamp, "
    "max_value, max_step, max_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (series_id, block) DO UPDATE SET count = metric_blocks.count + excluded.count, "
    + ", ".join(
        f"{side}_{col} = CASE WHEN excluded.{side}_value IS NOT NULL AND "
        f"(metric_blocks.{side}_value IS NULL OR excluded.{side}_value {op} "
        f"metric_blocks.{side}_value) THEN excluded.{side}_{col} "
        f"ELSE metric_blocks.{side}_{col} END"
        for side, op in (("min", "<"), ("max", ">"))
        for col in ("step", "timestamp", "value")
    )
)


def write(conn: Connection, series: Sequence[tuple[int, MetricColumns]]) -> None:
    rows: list[Row] = []
    for series_id, col in series:
        rows.extend(summaries(series_id, col))
    if rows:
        driver.executemany(conn, _UPSERT, rows)


def summaries(series_id: int, col: MetricColumns) -> list[Row]:
    steps, stamps, values = col.steps, col.timestamps, col.values
    n = len(steps)
    if n == 1:
        v = values[0]
        point = (v, steps[0], stamps[0]) if v == v else (None, None, None)
        return [(series_id, steps[0] >> BLOCK_BITS, 1, *point, *point)]
    if list(steps) != sorted(steps):
        return _unsorted(series_id, col)
    rows: list[Row] = []
    start = 0
    while start < n:
        block = steps[start] >> BLOCK_BITS
        end = bisect_left(steps, (block + 1) << BLOCK_BITS, start)
        rows.append((series_id, block, end - start, *_extremes(steps, stamps, values, start, end)))
        start = end
    return rows


def _extremes(
    steps: Sequence[int], stamps: Sequence[int], values: Sequence[float], start: int, end: int
) -> tuple[Any, ...]:
    chunk = list(values[start:end])
    total = sum(chunk)
    if total != total:  # a NaN, or +inf with -inf: compare only the numbers
        numbers = [v for v in chunk if v == v]
        if not numbers:
            return (None,) * 6
        low, high = min(numbers), max(numbers)
    else:
        low, high = min(chunk), max(chunk)
    i, j = start + chunk.index(low), start + chunk.index(high)
    return (low, steps[i], stamps[i], high, steps[j], stamps[j])


def _unsorted(series_id: int, col: MetricColumns) -> list[Row]:
    order = sorted(range(len(col.steps)), key=col.steps.__getitem__)
    ordered = MetricColumns(
        col.key,
        [col.steps[i] for i in order],
        [col.timestamps[i] for i in order],
        [col.values[i] for i in order],
    )
    return summaries(series_id, ordered)
