"""Metric history reads, always bounded: a page, or a downsampled whole series.

Points are fetched straight from the driver as tuples and transposed in C; building
per-point objects would cost more than the query. A downsampled read walks the series
in chunks, so even a series of many millions of points is reduced in bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from trackway.store import driver
from trackway.store.schema import BLOCK_BITS, metric_series
from trackway.tracking.downsample import Reducer

CHUNK = 100_000
# Read block summaries instead of points once a bucket spans this many blocks: a block's
# extremes then land in the right bucket, except near bucket edges, where a point that
# was no extreme of its block cannot be chosen (it is at most one block from one that is).
BLOCKS_PER_BUCKET = 4

# {w} is empty, or the worker filter "AND worker = {p}" with one more parameter.
_PAGE_SQL = (
    "SELECT step, timestamp, value, worker, id FROM metrics WHERE series_id = {p}{w} "
    "AND (step > {p} OR (step = {p} AND id > {p})) ORDER BY step, id LIMIT {p}"
)
_FIRST_PAGE_SQL = (
    "SELECT step, timestamp, value, worker, id FROM metrics WHERE series_id = {p}{w} "
    "ORDER BY step, id LIMIT {p}"
)
_ALL_SQL = (
    "SELECT step, timestamp, value, worker FROM metrics WHERE series_id = {p}{w} ORDER BY step, id"
)
_BLOCKS_SQL = (
    "SELECT min_step, min_timestamp, min_value, max_step, max_timestamp, max_value "
    "FROM metric_blocks WHERE series_id = {p} AND min_value IS NOT NULL ORDER BY block"
)
_END_SQL = (
    "SELECT step, timestamp, value FROM metrics WHERE series_id = {p} "
    "ORDER BY step {d}, id {d} LIMIT 1"
)
_RANGE_SQL = (
    "SELECT (SELECT step FROM metrics WHERE series_id = {p}{w} ORDER BY step LIMIT 1), "
    "(SELECT step FROM metrics WHERE series_id = {p}{w} ORDER BY step DESC LIMIT 1), "
    "(SELECT COUNT(*) FROM (SELECT 1 FROM metrics WHERE series_id = {p}{w} LIMIT {p}) AS head)"
)
_WORKER_FILTER = " AND worker = {p}"


@dataclass(slots=True)
class Points:
    """Columns of a series; a None value is NaN. `workers` holds each point's worker
    label (None for none), or is empty when the read could not tell (block summaries)."""

    steps: Sequence[int] = ()
    timestamps: Sequence[int] = ()
    values: Sequence[float | None] = ()
    workers: Sequence[str | None] = ()


def series_id(conn: Connection, run_id: str, key: str) -> int | None:
    found = conn.execute(
        select(metric_series.c.series_id).where(
            metric_series.c.run_id == run_id, metric_series.c.key == key
        )
    ).scalar()
    return None if found is None else int(found)


def _cursor(
    conn: Connection,
    sql: str,
    params: tuple[object, ...],
    *,
    stream: bool = False,
    filtered: bool = False,
) -> Any:
    """A driver cursor; with `stream`, the server keeps the rows until fetched.
    With `filtered`, each `{w}` becomes the worker filter, whose parameter the caller put
    right after the series id that precedes it."""
    sqlite = conn.dialect.name == "sqlite"
    cur = driver.cursor(conn, stream=stream)
    mark = "?" if sqlite else "%s"
    sql = sql.replace("{w}", _WORKER_FILTER if filtered else "")
    cur.execute(sql.format(p=mark), params)
    return cur


def _series_params(series: int, worker: str) -> tuple[object, ...]:
    return (series, worker) if worker else (series,)


def _columns(rows: list[Any], width: int) -> list[Sequence[Any]]:
    """Rows to columns, transposed in C; the columns are tuples, never copied again."""
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


def _from_blocks(conn: Connection, series: int, reducer: Reducer) -> Points:
    ends = []
    for direction in ("ASC", "DESC"):
        cur = _cursor(conn, _END_SQL.replace("{d}", direction), (series,))
        ends.append(tuple(cur.fetchone()))
        cur.close()
    reducer.set_ends(ends[0], ends[1])
    cur = _cursor(conn, _BLOCKS_SQL, (series,))
    try:
        for row in cur.fetchall():
            reducer.feed_extremes(row[:3], row[3:])
    finally:
        cur.close()
    steps, stamps, values = _columns(reducer.result(), 3)
    return Points(steps, stamps, values)


def page(
    conn: Connection, series: int, after: tuple[int, int] | None, size: int, worker: str = ""
) -> tuple[Points, tuple[int, int] | None]:
    """Up to `size` points after the (step, id) cursor, of one worker when `worker` is set;
    returns the next cursor or None."""
    head = _series_params(series, worker)
    if after is None:
        cur = _cursor(conn, _FIRST_PAGE_SQL, (*head, size + 1), filtered=bool(worker))
    else:
        params = (*head, after[0], after[0], after[1], size + 1)
        cur = _cursor(conn, _PAGE_SQL, params, filtered=bool(worker))
    rows = cur.fetchall()
    cur.close()
    more = len(rows) > size
    steps, stamps, values, workers, ids = _columns(rows[:size], 5)
    cursor = (int(steps[-1]), int(ids[-1])) if more else None
    return Points(steps, stamps, values, workers), cursor


def downsampled(conn: Connection, series: int, max_points: int, worker: str = "") -> Points:
    """The series reduced to `max_points`. With `worker`, only that worker's points, always
    read one by one: the block summaries cover the points of every worker."""
    head = _series_params(series, worker)
    filtered = bool(worker)
    cur = _cursor(conn, _RANGE_SQL, (*head, *head, *head, max_points + 1), filtered=filtered)
    first, last, count = cur.fetchone()
    cur.close()
    if first is None:
        return Points()
    reducer = Reducer(first, last, max_points)
    if (
        not filtered
        and count > max_points
        and reducer.bucket_steps() >= BLOCKS_PER_BUCKET << BLOCK_BITS
    ):
        return _from_blocks(conn, series, reducer)
    cur = _cursor(conn, _ALL_SQL, head, stream=True, filtered=filtered)
    try:
        if count <= max_points:
            steps, stamps, values, workers = _columns(cur.fetchall(), 4)
            return Points(steps, stamps, values, workers)
        while rows := cur.fetchmany(CHUNK):
            reducer.feed(*_columns(rows, 4))
    finally:
        cur.close()
    kept = reducer.result()
    steps, stamps, values, workers = _columns(kept, 4)
    return Points(steps, stamps, values, workers)
