"""Run leases in the service and store, on every backend: expiry, renewal, the sweep."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from trackway.errors import FailedPrecondition, InvalidArgument, NotFound
from trackway.store.run_ops import FAILURE_REASON_TAG
from trackway.store.schema import runs
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import MetricColumns, RunWrites
from trackway.tracking.service import TrackingService

REASON = "lease expired: no heartbeat since "


def _run(service: TrackingService, lease_seconds: int) -> str:
    exp = service.create_experiment(f"leases-{time.monotonic_ns()}")
    return service.create_run(exp.experiment_id, lease_seconds=lease_seconds).info.run_id


def _lease(store: SqlTrackingStore, run_id: str) -> tuple[int | None, int | None]:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(runs.c.lease_seconds, runs.c.lease_expire_time).where(runs.c.run_id == run_id)
        ).one()
    return row.lease_seconds, row.lease_expire_time


def _wait_past(store: SqlTrackingStore, run_id: str) -> None:
    """Sleeps until the run's lease has run out."""
    _, expires = _lease(store, run_id)
    assert expires is not None
    time.sleep(max(0.0, expires / 1000 - time.time()) + 0.05)


def test_a_silent_run_is_failed_with_the_reason_and_when_it_was_last_heard(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    before = int(time.time() * 1000)
    run_id = _run(service, lease_seconds=1)
    seconds, expires = _lease(store, run_id)
    assert seconds == 1 and expires is not None and before + 1000 <= expires
    assert store.fail_expired_runs() == 0  # not yet expired
    _wait_past(store, run_id)
    assert store.fail_expired_runs() == 1
    run = service.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.info.end_time == expires - 1000  # when it was last heard from
    assert run.tags[FAILURE_REASON_TAG].startswith(REASON)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((expires - 1000) / 1000))
    assert run.tags[FAILURE_REASON_TAG] == REASON + stamp
    assert _lease(store, run_id) == (1, None)  # out of the sweeper's index
    assert store.fail_expired_runs() == 0  # and never failed twice


def test_heartbeats_keep_a_run_running(service: TrackingService, store: SqlTrackingStore) -> None:
    run_id = _run(service, lease_seconds=1)
    stop = time.monotonic() + 2.0
    last = 0
    while time.monotonic() < stop:
        expires = service.heartbeat_run(run_id)
        assert expires >= last
        last = expires
        assert store.fail_expired_runs() == 0
        time.sleep(0.25)
    assert service.get_run(run_id).info.status == "RUNNING"
    _wait_past(store, run_id)
    assert store.fail_expired_runs() == 1
    assert service.get_run(run_id).info.status == "FAILED"


def test_logging_keeps_a_run_alive(service: TrackingService, store: SqlTrackingStore) -> None:
    """LogBatch, LogMetric, LogParam, SetTag and LogStream batches all renew the lease."""
    run_id = _run(service, lease_seconds=1)
    writes = [
        lambda i: service.log_batch(run_id, [("loss", 1.0, 0, i)]),
        lambda i: service.log_metric(run_id, "acc", 0.5, 0, i),
        lambda i: service.log_param(run_id, f"p{i}", "1"),
        lambda i: service.set_tag(run_id, "epoch", str(i)),
        lambda i: service.submit_stream_batch(
            "lease-writer",
            i // 5 + 1,
            RunWrites(run_id, metrics=[MetricColumns("s", [i], [0], [1.0])]),
        ).result(),
    ]
    stop = time.monotonic() + 2.5
    i = 0
    while time.monotonic() < stop:
        writes[i % len(writes)](i)
        assert store.fail_expired_runs() == 0
        i += 1
        time.sleep(0.1)
    assert service.get_run(run_id).info.status == "RUNNING"


def test_writes_renew_at_most_every_quarter_lease_or_few_seconds(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    """The ingest path pays for a renewal only when one is due, not on every write."""
    run_id = _run(service, lease_seconds=60)
    _, created = _lease(store, run_id)
    for step in range(20):
        service.log_batch(run_id, [("loss", 1.0, 0, step)])
    assert _lease(store, run_id) == (60, created)
    service.heartbeat_run(run_id, lease_seconds=2)  # renewals due every 0.5 s now
    _, beat = _lease(store, run_id)
    service.log_batch(run_id, [("loss", 1.0, 0, 99)])
    assert _lease(store, run_id) == (2, beat)
    time.sleep(0.6)
    service.log_batch(run_id, [("loss", 1.0, 0, 100)])
    _, renewed = _lease(store, run_id)
    assert renewed is not None and beat is not None and renewed >= beat + 500


def test_finished_runs_and_runs_without_a_lease_are_untouched(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    finished = _run(service, lease_seconds=1)
    service.update_run(finished, status="FINISHED", end_time=12345)
    killed = _run(service, lease_seconds=1)
    service.update_run(killed, status="KILLED")
    plain = _run(service, lease_seconds=0)
    assert _lease(store, plain) == (None, None)
    assert _lease(store, finished) == (1, None)
    time.sleep(1.1)
    assert store.fail_expired_runs() == 0
    run = service.get_run(finished)
    assert (run.info.status, run.info.end_time) == ("FINISHED", 12345)
    assert FAILURE_REASON_TAG not in run.tags
    assert service.get_run(killed).info.status == "KILLED"
    assert service.get_run(plain).info.status == "RUNNING"


def test_a_failed_run_refuses_heartbeats_until_resumed(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    run_id = _run(service, lease_seconds=1)
    _wait_past(store, run_id)
    assert store.fail_expired_runs() == 1
    with pytest.raises(FailedPrecondition) as err:
        service.heartbeat_run(run_id)
    assert "FAILED" in str(err.value) and REASON in str(err.value)
    assert err.value.metadata["status"] == "FAILED"
    # Resuming restarts the lease, so the next sweep leaves the run alone.
    service.update_run(run_id, status="RUNNING")
    seconds, expires = _lease(store, run_id)
    assert seconds == 1 and expires is not None and expires > time.time() * 1000
    assert store.fail_expired_runs() == 0
    assert service.heartbeat_run(run_id) >= expires


def test_heartbeat_gives_a_run_without_a_lease_one(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    run_id = _run(service, lease_seconds=0)
    with pytest.raises(FailedPrecondition, match="no lease"):
        service.heartbeat_run(run_id)
    expires = service.heartbeat_run(run_id, lease_seconds=30)
    assert _lease(store, run_id) == (30, expires)
    assert abs(expires - (time.time() * 1000 + 30_000)) < 5_000


def test_heartbeat_of_missing_deleted_or_badly_leased_runs(service: TrackingService) -> None:
    with pytest.raises(NotFound):
        service.heartbeat_run("0" * 32)
    run_id = _run(service, lease_seconds=10)
    service.delete_run(run_id)
    with pytest.raises(FailedPrecondition, match="deleted"):
        service.heartbeat_run(run_id)
    for bad in (-1, 86_401):
        with pytest.raises(InvalidArgument) as err:
            service.heartbeat_run(run_id, lease_seconds=bad)
        assert err.value.violations[0].field == "lease_seconds"
        exp = service.create_experiment(f"bad-lease-{bad}")
        with pytest.raises(InvalidArgument):
            service.create_run(exp.experiment_id, lease_seconds=bad)


@pytest.fixture
def second_store(db_url: str, artifact_root: str) -> Iterator[SqlTrackingStore]:
    """Another store on the same database: a second replica."""
    opened = SqlTrackingStore.open(db_url, artifact_root=artifact_root)
    yield opened
    opened.close()


def test_concurrent_sweepers_fail_each_run_once(
    service: TrackingService, store: SqlTrackingStore, second_store: SqlTrackingStore
) -> None:
    run_ids = [_run(service, lease_seconds=1) for _ in range(30)]
    alive = _run(service, lease_seconds=60)
    _wait_past(store, run_ids[-1])
    counts: list[int] = []
    start = threading.Barrier(4)

    def sweep(target: SqlTrackingStore) -> None:
        start.wait()
        counts.append(target.fail_expired_runs(batch=7))

    threads = [threading.Thread(target=sweep, args=(s,)) for s in (store, second_store) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == len(run_ids)
    for run_id in run_ids:
        run = service.get_run(run_id)
        assert run.info.status == "FAILED" and run.tags[FAILURE_REASON_TAG].startswith(REASON)
    assert service.get_run(alive).info.status == "RUNNING"
