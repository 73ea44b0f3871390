"""Logged-model reads and writes on an open connection. The store owns the transaction.

Every change to a model moves its `last_updated_timestamp` strictly forward (now, or one
more than before when two writes share a millisecond). A deleted model is NOT_FOUND to
every write but DeleteLoggedModel, which succeeds again: deleted models cannot be
restored, so to a writer a deleted model is gone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, delete, insert, select, update
from sqlalchemy.engine import Connection

from trackway import search
from trackway.errors import FailedPrecondition, NotFound
from trackway.store import dialect, experiment_ops, run_ops
from trackway.store.logged_model_search import (
    compile_logged_model_filter,
    compile_logged_model_order,
)
from trackway.store.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from trackway.tracking.entities import ACTIVE, DELETED, Page
from trackway.tracking.logged_model_entities import (
    PENDING,
    LoggedModel,
    ModelMetric,
    ModelSearch,
    NewLoggedModel,
)

_CHUNK = 500


def _bumped(column: Any, now_ms: int) -> ColumnElement[Any]:
    return case((column >= now_ms, column + 1), else_=now_ms)


def _touch(conn: Connection, model_id: str, now_ms: int, **values: Any) -> None:
    column = logged_models.c.last_updated_timestamp
    conn.execute(
        update(logged_models)
        .where(logged_models.c.model_id == model_id)
        .values(last_updated_timestamp=_bumped(column, now_ms), **values)
    )


def _stage(conn: Connection, model_id: str) -> str:
    stage = conn.execute(
        select(logged_models.c.lifecycle_stage).where(logged_models.c.model_id == model_id)
    ).scalar()
    if stage is None:
        raise NotFound(f"logged model {model_id!r} does not exist")
    return str(stage)


def require_live(conn: Connection, model_id: str) -> None:
    """NotFound unless the model exists and is not deleted."""
    if _stage(conn, model_id) != ACTIVE:
        raise NotFound(f"logged model {model_id!r} was deleted")


# Writes


def create(conn: Connection, new: NewLoggedModel, now_ms: int) -> str:
    """Inserts a PENDING model in an active experiment; returns its id."""
    exp = experiment_ops.require_active(conn, new.experiment_id)
    if new.source_run_id:
        run_ops.info(conn, new.source_run_id)
    location = f"{exp.artifact_location.rstrip('/')}/models/{new.model_id}/artifacts"
    conn.execute(
        insert(logged_models).values(
            model_id=new.model_id,
            experiment_id=new.experiment_id,
            name=new.name,
            artifact_location=location,
            creation_timestamp=now_ms,
            last_updated_timestamp=now_ms,
            status=PENDING,
            status_message="",
            model_type=new.model_type or None,
            source_run_id=new.source_run_id or None,
            lifecycle_stage=ACTIVE,
        )
    )
    _upsert_pairs(conn, logged_model_tags, new.model_id, new.tags)
    _upsert_pairs(conn, logged_model_params, new.model_id, new.params)
    return new.model_id


def _upsert_pairs(
    conn: Connection, table: Any, model_id: str, items: Sequence[tuple[str, str]]
) -> None:
    """Tags or fresh params; for a repeated key the last value wins."""
    dialect.upsert(
        conn,
        table,
        [{"model_id": model_id, "key": k, "value": v} for k, v in dict(items).items()],
        keys=("model_id", "key"),
        updates=("value",),
    )


def finalize(conn: Connection, model_id: str, status: str, message: str, now_ms: int) -> None:
    require_live(conn, model_id)
    _touch(conn, model_id, now_ms, status=status, status_message=message)


def delete_model(conn: Connection, model_id: str, now_ms: int) -> None:
    if _stage(conn, model_id) != DELETED:
        _touch(conn, model_id, now_ms, lifecycle_stage=DELETED)


def set_tags(
    conn: Connection, model_id: str, items: Sequence[tuple[str, str]], now_ms: int
) -> None:
    require_live(conn, model_id)
    _upsert_pairs(conn, logged_model_tags, model_id, items)
    _touch(conn, model_id, now_ms)


def delete_tag(conn: Connection, model_id: str, key: str, now_ms: int) -> None:
    require_live(conn, model_id)
    gone = conn.execute(
        delete(logged_model_tags).where(
            logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key
        )
    ).rowcount
    if not gone:
        raise NotFound(f"logged model {model_id!r} has no tag {key!r}")
    _touch(conn, model_id, now_ms)


def log_params(
    conn: Connection, model_id: str, items: Sequence[tuple[str, str]], now_ms: int
) -> None:
    """Params are write-once, as a run's are: the same value again is a no-op."""
    require_live(conn, model_id)
    wanted = dict(items)
    p = logged_model_params.c
    for keys in _chunks(list(wanted)):
        for row in conn.execute(
            select(p.key, p.value).where(p.model_id == model_id, p.key.in_(keys))
        ):
            if row.value != wanted[row.key]:
                raise FailedPrecondition(
                    f"param {row.key!r} of logged model {model_id!r} is {row.value[:100]!r}; "
                    "params are write-once",
                    metadata={"key": row.key},
                )
    dialect.insert_ignore(
        conn,
        logged_model_params,
        [{"model_id": model_id, "key": k, "value": v} for k, v in wanted.items()],
    )
    _touch(conn, model_id, now_ms)


def log_metrics(
    conn: Connection, model_id: str, run_id: str, points: Sequence[ModelMetric], now_ms: int
) -> None:
    """Adds points; a point already stored (same key, step, timestamp, run) is skipped."""
    require_live(conn, model_id)
    if run_id:
        run_ops.require_active(conn, run_id)
    dialect.insert_ignore(
        conn,
        logged_model_metrics,
        [
            {
                "model_id": model_id,
                "key": p.key,
                "step": p.step,
                "timestamp": p.timestamp,
                "run_id": run_id,
                # Both databases keep NaN as NULL, as run metrics do.
                "value": None if math.isnan(p.value) else p.value,
                "dataset_name": p.dataset_name,
                "dataset_digest": p.dataset_digest,
            }
            for p in points
        ],
    )
    _touch(conn, model_id, now_ms)


# Reads


def get(conn: Connection, model_id: str, allow_deleted: bool = False) -> LoggedModel:
    row = conn.execute(select(logged_models).where(logged_models.c.model_id == model_id)).first()
    if row is None:
        raise NotFound(f"logged model {model_id!r} does not exist")
    if row.lifecycle_stage != ACTIVE and not allow_deleted:
        raise NotFound(f"logged model {model_id!r} was deleted")
    return load(conn, [row])[0]


def load(conn: Connection, rows: Sequence[Any]) -> list[LoggedModel]:
    """Models with their tags, params and metrics, reading each table once per chunk."""
    found = {r.model_id: _model(r) for r in rows}
    for ids in _chunks(list(found)):
        for table, target in ((logged_model_tags, "tags"), (logged_model_params, "params")):
            for row in conn.execute(
                select(table).where(table.c.model_id.in_(ids)).order_by(table.c.key)
            ):
                getattr(found[row.model_id], target)[row.key] = row.value
        m = logged_model_metrics.c
        for row in conn.execute(
            select(logged_model_metrics)
            .where(m.model_id.in_(ids))
            .order_by(m.model_id, m.key, m.step, m.timestamp, m.run_id)
        ):
            found[row.model_id].metrics.append(
                ModelMetric(
                    key=row.key,
                    value=math.nan if row.value is None else row.value,
                    timestamp=row.timestamp,
                    step=row.step,
                    run_id=row.run_id,
                    dataset_name=row.dataset_name,
                    dataset_digest=row.dataset_digest,
                )
            )
    return [found[r.model_id] for r in rows]


def _model(row: Any) -> LoggedModel:
    return LoggedModel(
        model_id=row.model_id,
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        status=row.status,
        status_message=row.status_message,
        model_type=row.model_type or "",
        source_run_id=row.source_run_id or "",
        deleted=row.lifecycle_stage != ACTIVE,
    )


def search_models(conn: Connection, query: ModelSearch) -> Page[LoggedModel]:
    """One keyset page of the active models of the experiments that match the query."""
    where = compile_logged_model_filter(query.filter_text, query.datasets)
    keys = compile_logged_model_order(query.order_by, query.datasets)
    fingerprint = search.query_fingerprint(
        "logged_models",
        sorted(query.experiment_ids),
        query.filter_text,
        list(query.order_by),
        [[d.name, d.digest] for d in query.datasets],
    )
    conditions: list[Any] = [
        logged_models.c.lifecycle_stage == ACTIVE,
        logged_models.c.experiment_id.in_(list(query.experiment_ids)),
    ]
    if where is not None:
        conditions.append(where)
    if query.page_token:
        last = search.decode_page_token(query.page_token, fingerprint)
        conditions.append(search.keyset_after(keys, last))
    labels = [k.expr.label(f"_k{i}") for i, k in enumerate(keys)]
    found = conn.execute(
        select(logged_models, *labels)
        .where(*conditions)
        .order_by(*search.order_clauses(keys))
        .limit(query.page_size + 1)
    ).all()
    token = ""
    if len(found) > query.page_size:
        found = found[: query.page_size]
        last_row = found[-1]._mapping
        token = search.encode_page_token(
            fingerprint, [last_row[f"_k{i}"] for i in range(len(keys))]
        )
    return Page(load(conn, found), token)


def _chunks(items: Iterable[str]) -> list[list[str]]:
    ordered = list(items)
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]
