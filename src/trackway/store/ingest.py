"""Writes of params, tags and metric points to one run, inside a writer job.

Called on the writer thread with the transaction open. Everything is bulk: one
statement per table for params and tags, one bulk insert per metric key, and one
read plus at most one update of the key's series row, whose latest point is kept in
the same transaction as the points.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from trackway.errors import FailedPrecondition
from trackway.store import blocks, dialect, driver
from trackway.store.schema import params, runs, tags
from trackway.tracking.entities import MetricColumns, RunWrites

RUN_NAME_TAG = "mlflow.runName"


def write_params(conn: Connection, run_id: str, items: Sequence[tuple[str, str]]) -> None:
    """Params are write-once: the same value again is fine, a different one fails."""
    if not items:
        return
    wanted = dict(items)
    dialect.insert_ignore(
        conn, params, [{"run_id": run_id, "key": k, "value": v} for k, v in wanted.items()]
    )
    stored = conn.execute(
        select(params.c.key, params.c.value).where(
            params.c.run_id == run_id, params.c.key.in_(list(wanted))
        )
    )
    for key, value in stored:
        if value != wanted[key]:
            raise FailedPrecondition(
                f"param {key!r} of run {run_id} already has the value {value!r}; params are "
                f"write-once, so it cannot change to {wanted[key]!r}. Log a new key instead."
            )


def write_tags(conn: Connection, run_id: str, items: Sequence[tuple[str, str]]) -> None:
    """Tags are last-write-wins. The `mlflow.runName` tag also renames the run."""
    if not items:
        return
    latest = dict(items)
    dialect.upsert(
        conn,
        tags,
        [{"run_id": run_id, "key": k, "value": v} for k, v in latest.items()],
        keys=("run_id", "key"),
        updates=("value",),
    )
    if RUN_NAME_TAG in latest:
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(name=latest[RUN_NAME_TAG]))


def write_metrics(conn: Connection, run_id: str, columns: Sequence[MetricColumns]) -> None:
    """Appends points of several keys: one read of the keys' series rows, one insert per
    new key, one bulk update of the latest points that moved, one bulk insert of points."""
    by_key = _group_keys(columns)
    if not by_key:
        return
    keys = list(by_key)
    marks = ", ".join("?" * len(keys))
    stored = {
        row[0]: row[1:]
        for row in driver.fetchall(
            conn,
            "SELECT key, series_id, last_step, last_timestamp, last_value FROM metric_series "
            f"WHERE run_id = ? AND key IN ({marks})",
            [run_id, *keys],
        )
    }
    moved: list[tuple[int, int, float | None, int]] = []
    series: list[tuple[int, MetricColumns]] = []
    for key, cols in by_key.items():
        newest = max(_newest(c) for c in cols)
        found = stored.get(key)
        if found is None:
            series_id = _new_series(conn, run_id, key, newest)
        else:
            series_id = found[0]
            if _newer(newest, (found[1], found[2], _null_to_nan(found[3]))):
                moved.append((newest[0], newest[1], _nan_to_null(newest[2]), series_id))
        series.extend((series_id, col) for col in cols)
    if moved:
        driver.executemany(
            conn,
            "UPDATE metric_series SET last_step = ?, last_timestamp = ?, last_value = ? "
            "WHERE series_id = ?",
            moved,
        )
    dialect.insert_points(conn, series)
    blocks.write(conn, series)


def _group_keys(columns: Sequence[MetricColumns]) -> dict[str, list[MetricColumns]]:
    """The column sets of each key, one per worker label; a batch may name a key twice."""
    by_key: dict[str, list[MetricColumns]] = {}
    for col in columns:
        if not len(col.values):
            continue
        cols = by_key.setdefault(col.key, [])
        for i, seen in enumerate(cols):
            if seen.worker == col.worker:
                cols[i] = MetricColumns(
                    col.key,
                    [*seen.steps, *col.steps],
                    [*seen.timestamps, *col.timestamps],
                    [*seen.values, *col.values],
                    col.worker,
                )
                break
        else:
            cols.append(col)
    return by_key


def _newest(col: MetricColumns) -> tuple[int, int, float]:
    """The column's greatest (step, timestamp, value). A batch's highest step is nearly
    always held by one point, which C-level max, count and index find without building
    a tuple per point."""
    steps = col.steps
    if isinstance(steps, list):
        top = max(steps)
        if steps.count(top) == 1:
            i = steps.index(top)
            return (top, col.timestamps[i], col.values[i])
    return max(zip(steps, col.timestamps, col.values, strict=True))


def _new_series(conn: Connection, run_id: str, key: str, newest: tuple[int, int, float]) -> int:
    row = driver.fetchone(
        conn,
        "INSERT INTO metric_series (run_id, key, last_step, last_timestamp, last_value) "
        "VALUES (?, ?, ?, ?, ?) RETURNING series_id",
        [run_id, key, newest[0], newest[1], _nan_to_null(newest[2])],
    )
    assert row is not None
    return int(row[0])


def _newer(candidate: tuple[int, int, float], stored: tuple[int, int, float]) -> bool:
    """Greatest step, then timestamp, then value; NaN counts as lower than any number."""
    if candidate[:2] != stored[:2]:
        return candidate[:2] > stored[:2]
    new, old = candidate[2], stored[2]
    if new != new:
        return False
    return old != old or new > old


def _nan_to_null(value: float) -> float | None:
    return None if value != value else value


def _null_to_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def write_run(conn: Connection, writes: RunWrites) -> None:
    """Applies one atomic write to a run whose state the caller has checked."""
    write_params(conn, writes.run_id, writes.params)
    write_tags(conn, writes.run_id, writes.tags)
    write_metrics(conn, writes.run_id, writes.metrics)
