"""The tracking service without gRPC: plain calls in, domain entities and typed errors out.

The REST gateway and the UI call `TrackingService` the same way, so these tests show that
the rules live below the wire. The last test drives the store's group-commit writer
from many threads at once.
"""

from __future__ import annotations

import math
import threading

import pytest

from trackway.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import ACTIVE, DELETED
from trackway.tracking.service import TrackingService


def test_create_log_and_read_back(service: TrackingService) -> None:
    exp = service.create_experiment("service", tags=[("team", "vision")])
    assert (exp.name, exp.lifecycle_stage, exp.tags) == ("service", ACTIVE, {"team": "vision"})
    assert service.get_experiment_by_name("service") == exp

    run = service.create_run(exp.experiment_id, run_name="direct", start_time=1000, user_id="ana")
    run_id = run.info.run_id
    assert (run.info.run_name, run.info.status, run.info.start_time) == ("direct", "RUNNING", 1000)
    assert run.tags == {"mlflow.runName": "direct"}

    service.log_param(run_id, "lr", "0.1")
    service.set_tag(run_id, "stage", "dev")
    for step in range(5):
        service.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=100 + step, step=step)
    service.log_batch(
        run_id,
        metrics=[("acc", 0.5, 10, 0), ("acc", math.inf, 20, 1)],
        params=[("depth", "3")],
        tags=[("stage", "prod")],
    )

    got = service.get_run(run_id)
    assert got.params == {"depth": "3", "lr": "0.1"}
    assert got.tags == {"mlflow.runName": "direct", "stage": "prod"}
    assert [(m.key, m.step, m.timestamp, m.value) for m in got.metrics] == [
        ("acc", 1, 20, math.inf),
        ("loss", 4, 104, 0.2),
    ]

    page = service.search_runs([exp.experiment_id], filter_text="metrics.loss < 0.5")
    assert [r.info.run_id for r in page.items] == [run_id]
    assert page.next_page_token == ""
    assert service.search_runs([exp.experiment_id], filter_text="params.lr = '0.2'").items == []


def test_metric_history_pages_and_downsampling(service: TrackingService) -> None:
    run_id = service.create_run(service.create_experiment("h").experiment_id).info.run_id
    steps = list(range(20))
    values = [float(s % 7) for s in steps]
    service.log_batch(
        run_id, metrics=[("m", v, s * 10, s) for s, v in zip(steps, values, strict=True)]
    )
    seen: list[int] = []
    token = ""
    while True:
        points, token = service.metric_history(run_id, "m", page_size=6, page_token=token)
        assert len(points.steps) <= 6
        seen += points.steps
        if not token:
            break
    assert seen == steps

    (reduced,) = service.metric_history_downsampled([run_id], "m", max_points=6)
    assert len(reduced.steps) <= 6
    assert reduced.steps[0] == 0 and reduced.steps[-1] == 19
    assert {0.0, 6.0} <= set(reduced.values)
    empty, _ = service.metric_history(run_id, "missing")
    assert list(empty.steps) == []


def test_errors_are_typed_domain_errors(service: TrackingService) -> None:
    exp = service.create_experiment("typed")
    run_id = service.create_run(exp.experiment_id).info.run_id

    with pytest.raises(NotFound, match="experiment 999 does not exist"):
        service.get_experiment("999")
    with pytest.raises(InvalidArgument) as bad:
        service.get_experiment("abc")
    assert [v.field for v in bad.value.violations] == ["experiment_id"]
    with pytest.raises(AlreadyExists, match="'typed'"):
        service.create_experiment("typed")
    with pytest.raises(InvalidArgument) as bad:
        service.log_metric(run_id, "../up", 1.0, timestamp=0, step=0)
    assert [v.field for v in bad.value.violations] == ["metric.key"]

    service.log_param(run_id, "lr", "0.1")
    with pytest.raises(FailedPrecondition, match="write-once"):
        service.log_param(run_id, "lr", "0.2")

    service.delete_run(run_id)
    assert service.get_run(run_id).info.lifecycle_stage == DELETED
    with pytest.raises(FailedPrecondition, match="restore it"):
        service.set_tag(run_id, "k", "v")
    with pytest.raises(InvalidArgument) as bad:
        service.search_runs(filter_text="metrics.loss >")
    assert [v.field for v in bad.value.violations] == ["filter"]


THREADS = 16
CALLS_PER_THREAD = 50


@pytest.mark.parametrize("backend", ["sqlite"])
def test_group_commit_writer_under_concurrent_log_metric(
    service: TrackingService, store: SqlTrackingStore
) -> None:
    """16 threads x 50 LogMetric calls on SQLite: the single writer groups them into shared
    commits, every point lands, and no caller ever sees 'database is locked'."""
    run_id = service.create_run(service.create_experiment("load").experiment_id).info.run_id
    jobs_before = store.writer.stats.jobs
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        try:
            start.wait()
            for step in range(CALLS_PER_THREAD):
                service.log_metric(
                    run_id, f"thread-{thread}", float(thread), timestamp=1000 + step, step=step
                )
        except BaseException as exc:  # collected and asserted on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert errors == [], [str(e) for e in errors]
    assert not any("database is locked" in str(e) for e in errors)

    for i in range(THREADS):
        points, token = service.metric_history(run_id, f"thread-{i}", page_size=1000)
        assert token == ""
        assert list(points.steps) == list(range(CALLS_PER_THREAD)), i
        assert list(points.timestamps) == [1000 + s for s in range(CALLS_PER_THREAD)]
        assert list(points.values) == [float(i)] * CALLS_PER_THREAD
    latest = {m.key: m for m in service.get_run(run_id).metrics}
    assert len(latest) == THREADS
    assert all(latest[f"thread-{i}"].step == CALLS_PER_THREAD - 1 for i in range(THREADS))

    stats = store.writer.stats
    assert stats.jobs - jobs_before == THREADS * CALLS_PER_THREAD
    assert stats.largest_group > 1, stats
    assert stats.commits < stats.jobs, stats
