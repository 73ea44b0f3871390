"""Writes of params, tags and metric points to one run, inside a writer job.

Called on the writer thread with the transaction open. Everything is bulk: one
statement per table for params and tags, one bulk insert per metric key, and one
read plus at most one update of the key's series row, whose latest point is kept in
the same transaction as the points.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from trackway.errors import FailedPrecondition
from trackway.store import dialect
from trackway.store.schema import metric_series, params, runs, tags
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
    for col in columns:
        if len(col.values):
            _append_series(conn, run_id, col)


def _append_series(conn: Connection, run_id: str, col: MetricColumns) -> None:
    newest = max(zip(col.steps, col.timestamps, col.values, strict=True))
    row = conn.execute(
        select(
            metric_series.c.series_id,
            metric_series.c.last_step,
            metric_series.c.last_timestamp,
            metric_series.c.last_value,
        ).where(metric_series.c.run_id == run_id, metric_series.c.key == col.key)
    ).first()
    if row is None:
        series_id = conn.execute(
            insert(metric_series)
            .values(
                run_id=run_id,
                key=col.key,
                last_step=newest[0],
                last_timestamp=newest[1],
                last_value=_nan_to_null(newest[2]),
            )
            .returning(metric_series.c.series_id)
        ).scalar_one()
    else:
        series_id = row.series_id
        stored = (row.last_step, row.last_timestamp, _null_to_nan(row.last_value))
        if _newer(newest, stored):
            conn.execute(
                update(metric_series)
                .where(metric_series.c.series_id == series_id)
                .values(
                    last_step=newest[0],
                    last_timestamp=newest[1],
                    last_value=_nan_to_null(newest[2]),
                )
            )
    dialect.insert_points(conn, series_id, col.steps, col.timestamps, col.values)


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
