"""Run reads and writes on an open connection. The store owns the transaction.

Leases: a run created with `lease_seconds` keeps `lease_expire_time` while it is
RUNNING. Heartbeats renew it; so does every write to the run, but at most once per
`_renew_interval_ms`, read from the row that the write's `require_active` reads anyway,
so the ingest path pays one small UPDATE per run every few seconds and nothing more.
Leaving RUNNING clears the expiry; `fail_expired` marks runs whose lease ran out FAILED.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import BigInteger, cast, delete, insert, select, update
from sqlalchemy.engine import Connection

from trackway.errors import FailedPrecondition, NotFound, invalid
from trackway.store import dialect, driver, experiment_ops, ingest, rows
from trackway.store.schema import (
    datasets,
    input_tags,
    run_inputs,
    runs,
    tags,
)
from trackway.tracking.entities import (
    ACTIVE,
    DELETED,
    Dataset,
    DatasetInput,
    LatestMetric,
    Run,
    RunInfo,
)

PARENT_TAG = "mlflow.parentRunId"
# Set by the sweeper on a run whose lease ran out, saying since when it was silent.
FAILURE_REASON_TAG = "trackway.failure_reason"
# Writes renew a lease at most this often (and at most every quarter of the lease).
LEASE_RENEW_MS = 5_000
_NAN = float("nan")


def info(conn: Connection, run_id: str) -> RunInfo:
    row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    return rows.run_info(row)


def require_active(conn: Connection, run_id: str, *, renew_at: int | None = None) -> None:
    """One primary-key read that every write to a run starts with. With `renew_at` (now,
    in epoch ms) the write also renews the run's lease when the last renewal is due."""
    row = driver.fetchone(
        conn,
        "SELECT lifecycle_stage, lease_seconds, lease_expire_time FROM runs WHERE run_id = ?",
        [run_id],
    )
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    stage, lease_seconds, expires = row
    if stage != ACTIVE:
        raise FailedPrecondition(f"run {run_id} is deleted; restore it before writing to it")
    if renew_at is not None and expires is not None and lease_seconds:
        length = lease_seconds * 1000
        if renew_at - (expires - length) >= _renew_interval_ms(length):
            driver.executemany(
                conn,
                "UPDATE runs SET lease_expire_time = ? WHERE run_id = ?",
                [(renew_at + length, run_id)],
            )


def _renew_interval_ms(lease_ms: int) -> int:
    """How long after a renewal a write renews again: a few seconds, and often enough
    that a short lease held by a busy writer never runs out between two renewals."""
    return min(LEASE_RENEW_MS, lease_ms // 4)


def create(
    conn: Connection,
    *,
    run_id: str,
    experiment_id: int,
    run_name: str,
    user_id: str,
    start_time: int,
    tag_items: Sequence[tuple[str, str]],
    parent_run_id: str,
    lease_seconds: int = 0,
    now_ms: int = 0,
) -> None:
    exp = experiment_ops.require_active(conn, experiment_id)
    tag_map = dict(tag_items)
    parent = parent_run_id or tag_map.get(PARENT_TAG, "")
    if parent:
        parent_exp = conn.execute(
            select(runs.c.experiment_id).where(runs.c.run_id == parent)
        ).scalar()
        if parent_exp is None:
            raise NotFound(f"parent run {parent} does not exist")
        if parent_exp != experiment_id:
            raise invalid(
                "parent_run_id",
                f"run {parent} is in experiment {parent_exp}, not in {experiment_id}; "
                "a nested run lives in its parent's experiment",
            )
        tag_map[PARENT_TAG] = parent
    tag_map[ingest.RUN_NAME_TAG] = run_name
    conn.execute(
        insert(runs).values(
            run_id=run_id,
            experiment_id=experiment_id,
            name=run_name,
            user_id=user_id,
            status="RUNNING",
            start_time=start_time,
            end_time=None,
            deleted_time=None,
            lifecycle_stage=ACTIVE,
            artifact_uri=f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
            parent_run_id=parent or None,
            lease_seconds=lease_seconds or None,
            lease_expire_time=now_ms + lease_seconds * 1000 if lease_seconds else None,
        )
    )
    ingest.write_tags(conn, run_id, list(tag_map.items()))


def update_info(
    conn: Connection,
    run_id: str,
    *,
    status: str | None,
    end_time: int | None,
    run_name: str | None,
    now_ms: int,
) -> None:
    require_active(conn, run_id)
    values: dict[str, object] = {}
    if status is not None:
        values["status"] = status
        # Back to RUNNING (a resumed run) starts a fresh lease of the run's length; any
        # other status ends the lease, which takes the run out of the sweeper's index.
        values["lease_expire_time"] = (
            cast(runs.c.lease_seconds, BigInteger) * 1000 + now_ms if status == "RUNNING" else None
        )
    if end_time is not None:
        values["end_time"] = end_time
    if values:
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))
    if run_name is not None:
        ingest.write_tags(conn, run_id, [(ingest.RUN_NAME_TAG, run_name)])


def heartbeat(conn: Connection, run_id: str, lease_seconds: int, now_ms: int) -> int:
    """Renews a RUNNING run's lease from now, with a new length when `lease_seconds` is
    set; returns the new expiry."""
    row = conn.execute(
        select(runs.c.lifecycle_stage, runs.c.lease_seconds).where(runs.c.run_id == run_id)
    ).first()
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    if row.lifecycle_stage != ACTIVE:
        raise FailedPrecondition(f"run {run_id} is deleted; restore it before writing to it")
    length = lease_seconds or row.lease_seconds
    if not length:
        raise FailedPrecondition(
            f"run {run_id} has no lease; give lease_seconds to start one",
            metadata={"lease_seconds": "0"},
        )
    expires = now_ms + length * 1000
    # The status is checked by the UPDATE itself: on PostgreSQL a sweeper's concurrent
    # FAILED is then seen, never overwritten by a renewal that read RUNNING before it.
    renewed = conn.execute(
        update(runs)
        .where(runs.c.run_id == run_id, runs.c.status == "RUNNING")
        .values(lease_seconds=length, lease_expire_time=expires)
    ).rowcount
    if not renewed:
        raise _not_running(conn, run_id)
    return expires


def _not_running(conn: Connection, run_id: str) -> FailedPrecondition:
    status = conn.execute(select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
    reason = conn.execute(
        select(tags.c.value).where(tags.c.run_id == run_id, tags.c.key == FAILURE_REASON_TAG)
    ).scalar()
    because = f" ({reason})" if reason and status == "FAILED" else ""
    return FailedPrecondition(
        f"run {run_id} is {status}{because}, not RUNNING, so it has no lease to renew; "
        "set its status back to RUNNING to resume it",
        metadata={"status": str(status)},
    )


def fail_expired(conn: Connection, now_ms: int, limit: int) -> tuple[int, int]:
    """Marks FAILED up to `limit` RUNNING runs whose lease ran out before `now_ms`, each
    with its end time (when it was last heard from) and the reason tag. Returns how many
    expired runs it found and how many it failed.

    Safe beside other sweepers (replicas on one PostgreSQL) and live writers: each run's
    UPDATE repeats the conditions it was found by, down to the expiry it read, so a run
    that another sweeper failed or a heartbeat renewed meanwhile is left alone, and only
    the sweeper whose UPDATE changed the row writes the tag.
    """
    expired = conn.execute(
        select(runs.c.run_id, runs.c.start_time, runs.c.lease_seconds, runs.c.lease_expire_time)
        .where(runs.c.lease_expire_time < now_ms, runs.c.status == "RUNNING")
        .order_by(runs.c.lease_expire_time, runs.c.run_id)
        .limit(limit)
    ).all()
    failed = 0
    for row in expired:
        heard = row.lease_expire_time - (row.lease_seconds or 0) * 1000
        changed = conn.execute(
            update(runs)
            .where(
                runs.c.run_id == row.run_id,
                runs.c.status == "RUNNING",
                runs.c.lease_expire_time == row.lease_expire_time,
            )
            .values(status="FAILED", end_time=max(heard, row.start_time), lease_expire_time=None)
        ).rowcount
        if changed:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(heard / 1000))
            reason = f"lease expired: no heartbeat since {since}"
            ingest.write_tags(conn, row.run_id, [(FAILURE_REASON_TAG, reason)])
            failed += 1
    return len(expired), failed


def set_stage(conn: Connection, run_id: str, stage: str, now_ms: int) -> None:
    current = info(conn, run_id)
    if current.lifecycle_stage == stage:
        return
    if stage == ACTIVE:
        experiment_ops.require_active(conn, int(current.experiment_id))
    conn.execute(
        update(runs)
        .where(runs.c.run_id == run_id)
        .values(lifecycle_stage=stage, deleted_time=now_ms if stage == DELETED else None)
    )


def delete_tag(conn: Connection, run_id: str, key: str) -> None:
    require_active(conn, run_id)
    gone = conn.execute(delete(tags).where(tags.c.run_id == run_id, tags.c.key == key)).rowcount
    if not gone:
        raise NotFound(f"run {run_id} has no tag {key!r}")


def log_inputs(conn: Connection, run_id: str, inputs: Sequence[DatasetInput]) -> None:
    require_active(conn, run_id)
    experiment_id = conn.execute(
        select(runs.c.experiment_id).where(runs.c.run_id == run_id)
    ).scalar_one()
    for item in inputs:
        ds = item.dataset
        dialect.insert_ignore(
            conn,
            datasets,
            [
                {
                    "experiment_id": experiment_id,
                    "name": ds.name,
                    "digest": ds.digest,
                    "source_type": ds.source_type,
                    "source": ds.source,
                    "schema": ds.schema,
                    "profile": ds.profile,
                }
            ],
        )
        dataset_id = conn.execute(
            select(datasets.c.dataset_id).where(
                datasets.c.experiment_id == experiment_id,
                datasets.c.name == ds.name,
                datasets.c.digest == ds.digest,
            )
        ).scalar_one()
        dialect.insert_ignore(conn, run_inputs, [{"run_id": run_id, "dataset_id": dataset_id}])
        input_id = conn.execute(
            select(run_inputs.c.input_id).where(
                run_inputs.c.run_id == run_id, run_inputs.c.dataset_id == dataset_id
            )
        ).scalar_one()
        dialect.upsert(
            conn,
            input_tags,
            [{"input_id": input_id, "key": k, "value": v} for k, v in dict(item.tags).items()],
            keys=("input_id", "key"),
            updates=("value",),
        )


def load(conn: Connection, infos: Sequence[RunInfo], *, with_data: bool = True) -> list[Run]:
    """Runs with their data, reading each table once for the whole list."""
    found = [Run(info=i) for i in infos]
    if not with_data or not found:
        return found
    by_id = {r.info.run_id: r for r in found}
    ids = list(by_id)
    # Plain driver reads: a page of runs has thousands of params, tags and metrics, and
    # SQLAlchemy's row objects cost more than the SQL that finds them.
    for chunk in _chunks(ids, 500):
        marks = ", ".join("?" * len(chunk))
        for run_id, key, value in driver.fetchall(
            conn,
            f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks}) ORDER BY key",
            chunk,
        ):
            by_id[run_id].params[key] = value
        for run_id, key, value in driver.fetchall(
            conn,
            f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks}) ORDER BY key",
            chunk,
        ):
            by_id[run_id].tags[key] = value
        for run_id, key, step, timestamp, value in driver.fetchall(
            conn,
            "SELECT run_id, key, last_step, last_timestamp, last_value FROM metric_series "
            f"WHERE run_id IN ({marks}) ORDER BY key",
            chunk,
        ):
            by_id[run_id].metrics.append(
                LatestMetric(key, _NAN if value is None else value, timestamp, step)
            )
        _load_inputs(conn, chunk, by_id)
    return found


def _load_inputs(conn: Connection, ids: Sequence[str], by_id: dict[str, Run]) -> None:
    query = (
        select(run_inputs.c.input_id, run_inputs.c.run_id, datasets)
        .join(datasets, datasets.c.dataset_id == run_inputs.c.dataset_id)
        .where(run_inputs.c.run_id.in_(list(ids)))
        .order_by(run_inputs.c.input_id)
    )
    inputs: dict[int, DatasetInput] = {}
    for row in conn.execute(query):
        item = DatasetInput(
            Dataset(row.name, row.digest, row.source_type, row.source, row.schema, row.profile)
        )
        inputs[row.input_id] = item
        by_id[row.run_id].inputs.append(item)
    if inputs:
        for row in conn.execute(
            select(input_tags)
            .where(input_tags.c.input_id.in_(list(inputs)))
            .order_by(input_tags.c.key)
        ):
            inputs[row.input_id].tags.append((row.key, row.value))


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
