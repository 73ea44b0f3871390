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

from trackway.store.schema import BLOCK_BITS, metric_series
from trackway.tracking.downsample import Reducer

CHUNK = 100_000
# Read block summaries instead of points once a bucket spans this many blocks: a block's
# extremes then land in the right bucket, except near bucket edges, where a point that
# was no extreme of its block cannot be chosen (it is at most one block from one that is).
BLOCKS_PER_BUCKET = 4

_PAGE_SQL = (
    "SELECT step, timestamp, value, id FROM metrics WHERE series_id = {p} "
    "AND (step > {p} OR (step = {p} AND id > {p})) ORDER BY step, id LIMIT {p}"
)
_FIRST_PAGE_SQL = (
    "SELECT step, timestamp, value, id FROM metrics WHERE series_id = {p} "
    "ORDER BY step, id LIMIT {p}"
)
_ALL_SQL = "SELECT step, timestamp, value FROM metrics WHERE series_id = {p} ORDER BY step, id"
_BLOCKS_SQL = (
    "SELECT min_step, min_timestamp, min_value, max_step, max_timestamp, max_value "
    "FROM metric_blocks WHERE series_id = {p} AND min_value IS NOT NULL ORDER BY block"
)
_END_SQL = (
    "SELECT step, timestamp, value FROM metrics WHERE series_id = {p} "
    "ORDER BY step {d}, id {d} LIMIT 1"
)
_RANGE_SQL = (
    "SELECT (SELECT step FROM metrics WHERE series_id = {p} ORDER BY step LIMIT 1), "
    "(SELECT step FROM metrics WHERE series_id = {p} ORDER BY step DESC LIMIT 1), "
    "(SELECT COUNT(*) FROM (SELECT 1 FROM metrics WHERE series_id = {p} LIMIT {p}) AS head)"
)


@dataclass(slots=True)
class Points:
    """Columns of a series; a None value is NaN."""

    steps: Sequence[int] = ()
    timestamps: Sequence[int] = ()
    values: Sequence[float | None] = ()


def series_id(conn: Connection, run_id: str, key: str) -> int | None:
    found = conn.execute(
        select(metric_series.c.series_id).where(
            metric_series.c.run_id == run_id, metric_series.c.key == key
        )
    ).scalar()
    return None if found is None else int(found)


def _cursor(conn: Connection, sql: str, params: tuple[object, ...], *, stream: bool = False) -> Any:
    """A driver cursor; with `stream`, PostgreSQL keeps the rows server-side until fetched."""
    sqlite = conn.dialect.name == "sqlite"
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor(name="trackway_history") if stream and not sqlite else dbapi.cursor()
    mark = "?" if sqlite else "%s"
    cur.execute(sql.format(p=mark), params)
    return cur


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
    conn: Connection, series: int, after: tuple[int, int] | None, size: int
) -> tuple[Points, tuple[int, int] | None]:
    """Up to `size` points after the (step, id) cursor; returns the next cursor or None."""
    if after is None:
        cur = _cursor(conn, _FIRST_PAGE_SQL, (series, size + 1))
    else:
        cur = _cursor(conn, _PAGE_SQL, (series, after[0], after[0], after[1], size + 1))
    rows = cur.fetchall()
    cur.close()
    more = len(rows) > size
    steps, stamps, values, ids = _columns(rows[:size], 4)
    cursor = (int(steps[-1]), int(ids[-1])) if more else None
    return Points(steps, stamps, values), cursor


def downsampled(conn: Connection, series: int, max_points: int) -> Points:
    cur = _cursor(conn, _RANGE_SQL, (series, series, series, max_points + 1))
    first, last, head = cur.fetchone()
    cur.close()
    if first is None:
        return Points()
    reducer = Reducer(first, last, max_points)
    if head > max_points and reducer.bucket_steps() >= BLOCKS_PER_BUCKET << BLOCK_BITS:
        return _from_blocks(conn, series, reducer)
    cur = _cursor(conn, _ALL_SQL, (series,), stream=True)
    try:
        if head <= max_points:
            steps, stamps, values = _columns(cur.fetchall(), 3)
            return Points(steps, stamps, values)
        while rows := cur.fetchmany(CHUNK):
            reducer.feed(*_columns(rows, 3))
    finally:
        cur.close()
    kept = reducer.result()
    steps, stamps, values = _columns(kept, 3)
    return Points(steps, stamps, values)
