"""Experiment reads and writes on an open connection. The store owns the transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from trackway.errors import AlreadyExists, FailedPrecondition, NotFound
from trackway.store import dialect, rows
from trackway.store.schema import (
    datasets,
    experiment_tags,
    experiments,
    input_tags,
    metric_blocks,
    metric_series,
    metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from trackway.tracking.entities import ACTIVE, DELETED, Experiment


def _row(conn: Connection, experiment_id: int) -> Experiment:
    row = conn.execute(
        select(experiments).where(experiments.c.experiment_id == experiment_id)
    ).first()
    if row is None:
        raise NotFound(f"experiment {experiment_id} does not exist")
    return rows.experiment(row)


def get(conn: Connection, experiment_id: int) -> Experiment:
    exp = _row(conn, experiment_id)
    exp.tags = tags_of(conn, [experiment_id])[experiment_id]
    return exp


def get_by_name(conn: Connection, name: str) -> Experiment:
    found = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.name == name)
    ).scalar()
    if found is None:
        raise NotFound(f"no experiment is named {name!r}")
    return get(conn, found)


def tags_of(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {i: {} for i in ids}
    query = (
        select(experiment_tags)
        .where(experiment_tags.c.experiment_id.in_(list(ids)))
        .order_by(experiment_tags.c.experiment_id, experiment_tags.c.key)
    )
    for row in conn.execute(query):
        found[row.experiment_id][row.key] = row.value
    return found


def require_active(conn: Connection, experiment_id: int) -> Experiment:
    exp = _row(conn, experiment_id)
    if exp.lifecycle_stage != ACTIVE:
        raise FailedPrecondition(
            f"experiment {experiment_id} is deleted; restore it before changing it"
        )
    return exp


def _require_free_name(conn: Connection, name: str) -> None:
    taken = conn.execute(
        select(experiments.c.experiment_id, experiments.c.lifecycle_stage).where(
            experiments.c.name == name
        )
    ).first()
    if taken is not None:
        hint = (
            " (it is deleted: restore it, or purge it to free the name)"
            if taken.lifecycle_stage == DELETED
            else ""
        )
        raise AlreadyExists(f"experiment {taken.experiment_id} is already named {name!r}{hint}")


def create(
    conn: Connection,
    name: str,
    artifact_location: str,
    tag_items: Sequence[tuple[str, str]],
    default_location: Callable[[int], str],
    now_ms: int,
) -> int:
    _require_free_name(conn, name)
    new_id = conn.execute(
        insert(experiments)
        .values(
            name=name,
            artifact_location=artifact_location,
            lifecycle_stage=ACTIVE,
            creation_time=now_ms,
            last_update_time=now_ms,
        )
        .returning(experiments.c.experiment_id)
    ).scalar_one()
    if not artifact_location:
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == new_id)
            .values(artifact_location=default_location(new_id))
        )
    set_tags(conn, new_id, tag_items)
    return int(new_id)


def rename(conn: Connection, experiment_id: int, name: str, now_ms: int) -> None:
    exp = require_active(conn, experiment_id)
    if exp.name == name:
        return
    _require_free_name(conn, name)
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(name=name, last_update_time=now_ms)
    )


def touch(conn: Connection, experiment_id: int, now_ms: int) -> None:
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(last_update_time=now_ms)
    )


def set_tags(conn: Connection, experiment_id: int, items: Sequence[tuple[str, str]]) -> None:
    dialect.upsert(
        conn,
        experiment_tags,
        [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in dict(items).items()],
        keys=("experiment_id", "key"),
        updates=("value",),
    )


def delete_tag(conn: Connection, experiment_id: int, key: str, now_ms: int) -> None:
    require_active(conn, experiment_id)
    gone = conn.execute(
        delete(experiment_tags).where(
            experiment_tags.c.experiment_id == experiment_id, experiment_tags.c.key == key
        )
    ).rowcount
    if not gone:
        raise NotFound(f"experiment {experiment_id} has no tag {key!r}")
    touch(conn, experiment_id, now_ms)


def soft_delete(conn: Connection, experiment_id: int, now_ms: int) -> None:
    """Marks the experiment and its active runs deleted at one instant, so that a
    restore brings back exactly the runs that this delete took with it."""
    exp = _row(conn, experiment_id)
    if exp.lifecycle_stage == DELETED:
        return
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(lifecycle_stage=DELETED, last_update_time=now_ms)
    )
    conn.execute(
        update(runs)
        .where(runs.c.experiment_id == experiment_id, runs.c.lifecycle_stage == ACTIVE)
        .values(lifecycle_stage=DELETED, deleted_time=now_ms)
    )


def restore(conn: Connection, experiment_id: int, now_ms: int) -> None:
    exp = _row(conn, experiment_id)
    if exp.lifecycle_stage == ACTIVE:
        return
    conn.execute(
        update(runs)
        .where(
            runs.c.experiment_id == experiment_id,
            runs.c.lifecycle_stage == DELETED,
            runs.c.deleted_time == exp.last_update_time,
        )
        .values(lifecycle_stage=ACTIVE, deleted_time=None)
    )
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(lifecycle_stage=ACTIVE, last_update_time=now_ms)
    )


def purge(conn: Connection, experiment_id: int) -> int:
    """Removes a deleted experiment and everything in it; returns the number of runs."""
    exp = _row(conn, experiment_id)
    if exp.lifecycle_stage != DELETED:
        raise FailedPrecondition(
            f"experiment {experiment_id} is active; delete it before purging it"
        )
    run_ids = select(runs.c.run_id).where(runs.c.experiment_id == experiment_id)
    run_count = len(conn.execute(run_ids).all())
    series = select(metric_series.c.series_id).where(metric_series.c.run_id.in_(run_ids))
    input_ids = select(run_inputs.c.input_id).where(run_inputs.c.run_id.in_(run_ids))
    conn.execute(delete(metrics).where(metrics.c.series_id.in_(series)))
    conn.execute(delete(metric_blocks).where(metric_blocks.c.series_id.in_(series)))
    conn.execute(delete(metric_series).where(metric_series.c.run_id.in_(run_ids)))
    conn.execute(delete(input_tags).where(input_tags.c.input_id.in_(input_ids)))
    conn.execute(delete(run_inputs).where(run_inputs.c.run_id.in_(run_ids)))
    conn.execute(delete(params).where(params.c.run_id.in_(run_ids)))
    conn.execute(delete(tags).where(tags.c.run_id.in_(run_ids)))
    conn.execute(delete(runs).where(runs.c.experiment_id == experiment_id))
    conn.execute(delete(datasets).where(datasets.c.experiment_id == experiment_id))
    conn.execute(delete(experiment_tags).where(experiment_tags.c.experiment_id == experiment_id))
    conn.execute(delete(experiments).where(experiments.c.experiment_id == experiment_id))
    return run_count
