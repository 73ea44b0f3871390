"""Issue 6: metric points carry an optional worker (rank, host) label, over gRPC on both
backends: written by LogStream, LogBatch and LogMetric, read back per point, filtered by
worker in pages and in downsampled reads, and refused when malformed."""

from __future__ import annotations

import uuid

import pytest

from tests.test_tracking_rpcs import (
    INVALID,
    assert_error,
    check_error,
    new_run,
    open_stream,
    stream,
)
from trackway.gen.tracking.v1 import metric_pb2 as mpb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub as Stub

WORKERS = ("rank-0", "rank-1", "host.a:2")


def columns(key: str, steps: range, worker: str = "", offset: float = 0.0) -> mpb.MetricColumns:
    return mpb.MetricColumns(
        key=key,
        steps=list(steps),
        timestamps=[1000 + s for s in steps],
        values=[s / 10 + offset for s in steps],
        worker=worker,
    )


def log_stream(stub: Stub, run_id: str, batches: list[list[mpb.MetricColumns]]) -> None:
    requests = [open_stream(str(uuid.uuid4()))] + [
        pb.LogStreamRequest(batch=pb.LogStreamBatch(seq=i, run_id=run_id, metrics=cols))
        for i, cols in enumerate(batches, start=1)
    ]
    answers, error = stream(stub, requests)
    assert error is None, error
    assert answers[-1] == ("ack", len(batches))


def history(stub: Stub, run_id: str, key: str = "loss", **kw: object) -> mpb.MetricColumns:
    reply = stub.GetMetricHistory(
        pb.GetMetricHistoryRequest(run_id=run_id, metric_key=key, **kw)  # type: ignore[arg-type]
    )
    assert not reply.next_page_token
    return reply.points


def three_worker_run(stub: Stub, points: int = 50) -> str:
    """Each worker logs steps 0..points-1 in two batches; worker i's values are offset by i."""
    run_id = new_run(stub).info.run_id
    half = points // 2
    log_stream(
        stub,
        run_id,
        [
            [columns("loss", range(0, half), w, i) for i, w in enumerate(WORKERS)],
            [columns("loss", range(half, points), w, i) for i, w in enumerate(WORKERS)],
        ],
    )
    return run_id


def test_stream_points_of_three_workers_carry_their_labels(stub: Stub) -> None:
    run_id = three_worker_run(stub)
    got = history(stub, run_id)
    assert len(got.steps) == len(got.workers) == 150
    for step, value, worker in zip(got.steps, got.values, got.workers, strict=True):
        assert value == pytest.approx(step / 10 + WORKERS.index(worker))
    assert sorted(set(got.workers)) == sorted(WORKERS)
    assert not got.worker  # the per-point labels are in `workers`
    # The latest point of the run is still one point of the series.
    run = stub.GetRun(pb.GetRunRequest(run_id=run_id)).run
    (latest,) = run.data.metrics
    assert latest.step == 49


def test_worker_filter_returns_only_that_workers_points(stub: Stub) -> None:
    run_id = three_worker_run(stub)
    for i, worker in enumerate(WORKERS):
        got = history(stub, run_id, worker=worker)
        assert list(got.steps) == list(range(50))
        assert list(got.values) == pytest.approx([s / 10 + i for s in range(50)])
        assert list(got.workers) == [worker] * 50
    assert len(history(stub, run_id, worker="rank-9").steps) == 0


def test_worker_filter_pages_and_its_token_is_tied_to_the_worker(stub: Stub) -> None:
    run_id = three_worker_run(stub)
    request = pb.GetMetricHistoryRequest(
        run_id=run_id, metric_key="loss", page_size=20, worker="rank-1"
    )
    steps: list[int] = []
    first = stub.GetMetricHistory(request)
    token = first.next_page_token
    steps.extend(first.points.steps)
    assert token
    assert_error(
        lambda: stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(
                run_id=run_id, metric_key="loss", page_size=20, page_token=token
            )
        ),
        INVALID,
        "page_token",
    )
    while token:
        request.page_token = token
        reply = stub.GetMetricHistory(request)
        steps.extend(reply.points.steps)
        assert set(reply.points.workers) == {"rank-1"}
        token = reply.next_page_token
    assert steps == list(range(50))


def test_downsampled_read_with_a_worker_filter(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    n = 20_000  # long enough that an unfiltered read would use block summaries
    log_stream(
        stub,
        run_id,
        [[columns("loss", range(n), w, 1000.0 * i) for i, w in enumerate(WORKERS)]],
    )
    got = history(stub, run_id, max_points=100, worker="rank-1")
    assert 3 <= len(got.steps) <= 100
    assert set(got.workers) == {"rank-1"}
    assert got.steps[0] == 0 and got.steps[-1] == n - 1
    assert all(1000.0 <= v < 1000.0 + n / 10 for v in got.values)
    # A worker with fewer points than max_points gets them all back.
    log_stream(stub, run_id, [[columns("loss", range(0, n, 500), "short", 5000.0)]])
    small = history(stub, run_id, max_points=100, worker="short")
    assert list(small.steps) == list(range(0, n, 500))
    assert set(small.workers) == {"short"}
    # Unfiltered, the series mixes the workers' values.
    mixed = history(stub, run_id, max_points=100)
    assert min(mixed.values) < 1000.0 < max(mixed.values)
    # GetMetricHistoryBulk is unchanged.
    bulk = stub.GetMetricHistoryBulk(
        pb.GetMetricHistoryBulkRequest(run_ids=[run_id], metric_key="loss", max_points=100)
    )
    assert 3 <= len(bulk.histories[0].points.steps) <= 100


def test_log_batch_and_log_metric_with_a_worker_per_metric(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    stub.LogBatch(
        pb.LogBatchRequest(
            run_id=run_id,
            metrics=[
                mpb.Metric(key="loss", value=1.0, timestamp=1000, step=0, worker="0"),
                mpb.Metric(key="loss", value=2.0, timestamp=1000, step=0, worker="1"),
                mpb.Metric(key="loss", value=3.0, timestamp=1001, step=1, worker="0"),
                mpb.Metric(key="acc", value=0.5, timestamp=1000, step=0),
            ],
        )
    )
    stub.LogMetric(
        pb.LogMetricRequest(
            run_id=run_id,
            metric=mpb.Metric(key="loss", value=4.0, timestamp=1002, step=2, worker="1"),
        )
    )
    got = history(stub, run_id)
    assert list(zip(got.steps, got.values, got.workers, strict=True)) == [
        (0, 1.0, "0"),
        (0, 2.0, "1"),
        (1, 3.0, "0"),
        (2, 4.0, "1"),
    ]
    assert list(history(stub, run_id, worker="1").values) == [2.0, 4.0]
    acc = history(stub, run_id, key="acc")
    assert list(acc.values) == [0.5]
    assert len(acc.workers) == 0


def test_points_without_a_worker_have_no_workers_column(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    log_stream(stub, run_id, [[columns("loss", range(10))]])
    assert len(history(stub, run_id).workers) == 0
    assert len(history(stub, run_id, max_points=5).workers) == 0
    # Mixed: points without a label read back as empty entries.
    log_stream(stub, run_id, [[columns("loss", range(10, 12), "7")]])
    got = history(stub, run_id)
    assert list(got.workers) == [""] * 10 + ["7", "7"]


@pytest.mark.parametrize(
    "bad",
    ["w" * 65, "rank 0", "rank/0", "héllo", "a\x00b"],
    ids=["long", "space", "slash", "accent", "nul"],
)
def test_a_bad_worker_label_is_refused_naming_its_field(stub: Stub, bad: str) -> None:
    run_id = new_run(stub).info.run_id
    answers, error = stream(
        stub,
        [
            open_stream(str(uuid.uuid4())),
            pb.LogStreamRequest(
                batch=pb.LogStreamBatch(
                    seq=1,
                    run_id=run_id,
                    metrics=[columns("ok", range(3), "fine"), columns("loss", range(3), bad)],
                )
            ),
        ],
    )
    assert answers == [("opened", 0)]
    check_error(error, INVALID, "batch.metrics[1].worker")
    assert_error(
        lambda: stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[
                    mpb.Metric(key="loss", value=1.0, timestamp=1, worker="ok"),
                    mpb.Metric(key="loss", value=1.0, timestamp=1, worker=bad),
                ],
            )
        ),
        INVALID,
        "metrics[1].worker",
    )
    assert_error(
        lambda: stub.LogMetric(
            pb.LogMetricRequest(
                run_id=run_id, metric=mpb.Metric(key="loss", value=1.0, timestamp=1, worker=bad)
            )
        ),
        INVALID,
        "metric.worker",
    )
    for extra in ({}, {"max_points": 10}):
        assert_error(
            lambda extra=extra: stub.GetMetricHistory(  # type: ignore[misc]
                pb.GetMetricHistoryRequest(run_id=run_id, metric_key="loss", worker=bad, **extra)
            ),
            INVALID,
            "worker",
        )
    assert len(history(stub, run_id).steps) == 0  # nothing of the refused writes landed
