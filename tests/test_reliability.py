"""Durability and consistency under failure: dropped streams, kill -9, paging under writes."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest

from tests.support.procs import ServerProcess
from tests.support.streams import POINTS_PER_BATCH, StreamWriter, batch
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc


def _new_run(stub: pb_grpc.TrackingServiceStub) -> str:
    exp = stub.CreateExperiment(pb.CreateExperimentRequest(name=f"e-{uuid.uuid4().hex[:8]}"))
    run = stub.CreateRun(pb.CreateRunRequest(experiment_id=exp.experiment.experiment_id))
    return str(run.run.info.run_id)


def _all_steps(stub: pb_grpc.TrackingServiceStub, run_id: str, key: str = "loss") -> list[int]:
    steps: list[int] = []
    token = ""
    while True:
        page = stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(
                run_id=run_id, metric_key=key, page_size=100_000, page_token=token
            )
        )
        steps.extend(page.points.steps)
        token = page.next_page_token
        if not token:
            return steps


def _wait(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise TimeoutError("condition not reached")


def test_stream_resumes_after_dropped_connection(
    stub: pb_grpc.TrackingServiceStub, channel: grpc.Channel
) -> None:
    run_id = _new_run(stub)
    writer_id = uuid.uuid4().hex
    first = StreamWriter(channel, writer_id)
    for seq in range(1, 31):
        first.send(batch(run_id, seq))
    _wait(lambda: first.last_acked >= 10)
    first.cancel()  # the connection drops with batches in flight
    acked = first.last_acked

    second = StreamWriter(channel, writer_id)
    _wait(lambda: second.opened_at is not None)
    assert second.opened_at is not None and second.opened_at >= acked
    for seq in range(second.opened_at + 1, 41):
        second.send(batch(run_id, seq))
    second.finish()
    assert second.error is None
    assert second.last_acked == 40

    steps = _all_steps(stub, run_id)
    assert len(steps) == 40 * POINTS_PER_BATCH
    assert sorted(steps) == list(range(40 * POINTS_PER_BATCH))


def test_resent_batches_are_acknowledged_without_duplicates(
    stub: pb_grpc.TrackingServiceStub, channel: grpc.Channel
) -> None:
    run_id = _new_run(stub)
    writer_id = uuid.uuid4().hex
    first = StreamWriter(channel, writer_id)
    for seq in range(1, 6):
        first.send(batch(run_id, seq))
    first.finish()
    again = StreamWriter(channel, writer_id)
    for seq in range(1, 8):  # a client that resends more than it needs to
        again.send(batch(run_id, seq))
    again.finish()
    assert again.opened_at == 5
    assert again.error is None and again.last_acked == 7
    assert sorted(_all_steps(stub, run_id)) == list(range(7 * POINTS_PER_BATCH))


@pytest.mark.slow
def test_kill_9_mid_stream_loses_no_acknowledged_point(
    db_url: str, artifact_root: str, tmp_path: Path
) -> None:
    """Every acknowledged batch survives `kill -9`; a resume fills in the rest exactly once."""
    server = ServerProcess(db_url, artifact_root, tmp_path / "server.log")
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = pb_grpc.TrackingServiceStub(channel)
            run_id = _new_run(stub)
            writer_id = uuid.uuid4().hex
            writer = StreamWriter(channel, writer_id)
            total = 400
            for seq in range(1, total + 1):
                writer.send(batch(run_id, seq))
            _wait(lambda: writer.last_acked >= 50)
            server.kill9()
            acked = writer.last_acked
            writer.cancel()
        assert acked < total, "the server was killed after it had finished; nothing to test"

        server = ServerProcess(db_url, artifact_root, tmp_path / "server.log", port=server.port)
        with grpc.insecure_channel(server.target) as channel:
            stub = pb_grpc.TrackingServiceStub(channel)
            committed = sorted(_all_steps(stub, run_id))
            # Acknowledged means committed: all of it is there, each point once.
            assert committed[: acked * POINTS_PER_BATCH] == list(range(acked * POINTS_PER_BATCH))
            assert len(committed) == len(set(committed))
            resumed = StreamWriter(channel, writer_id)
            _wait(lambda: resumed.opened_at is not None)
            assert resumed.opened_at is not None and resumed.opened_at >= acked
            for seq in range(resumed.opened_at + 1, total + 1):
                resumed.send(batch(run_id, seq))
            resumed.finish()
            assert resumed.error is None and resumed.last_acked == total
            assert sorted(_all_steps(stub, run_id)) == list(range(total * POINTS_PER_BATCH))
    finally:
        server.close()


@pytest.mark.slow
def test_sigterm_drains_and_exits_zero(db_url: str, artifact_root: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, artifact_root, tmp_path / "server.log")
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = pb_grpc.TrackingServiceStub(channel)
            run_id = _new_run(stub)
            writer = StreamWriter(channel, uuid.uuid4().hex)
            for seq in range(1, 101):
                writer.send(batch(run_id, seq))
            _wait(lambda: writer.last_acked >= 20)
            code = server.terminate()
            acked = writer.last_acked
            writer.cancel()
        assert code == 0, (tmp_path / "server.log").read_text()
        server = ServerProcess(db_url, artifact_root, tmp_path / "server.log", port=server.port)
        with grpc.insecure_channel(server.target) as channel:
            steps = _all_steps(pb_grpc.TrackingServiceStub(channel), run_id)
        assert len(steps) == len(set(steps))
        assert set(range(acked * POINTS_PER_BATCH)) <= set(steps)
    finally:
        server.close()


def test_run_pages_never_repeat_or_skip_while_runs_are_written(
    stub: pb_grpc.TrackingServiceStub,
) -> None:
    exp = stub.CreateExperiment(pb.CreateExperimentRequest(name="paging")).experiment
    existing = set()
    for i in range(45):
        run = stub.CreateRun(
            pb.CreateRunRequest(experiment_id=exp.experiment_id, start_time=1_000 + i)
        ).run
        existing.add(run.info.run_id)

    stop = threading.Event()

    def keep_writing() -> None:
        i = 0
        while not stop.is_set():
            stub.CreateRun(
                pb.CreateRunRequest(experiment_id=exp.experiment_id, start_time=500 + i % 1000)
            )
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for order in (["attributes.start_time DESC"], ["attributes.start_time ASC"]):
            seen: list[str] = []
            token = ""
            while True:
                page = stub.SearchRuns(
                    pb.SearchRunsRequest(
                        experiment_ids=[exp.experiment_id],
                        order_by=order,
                        page_size=7,
                        page_token=token,
                        run_view=pb.RUN_VIEW_INFO_ONLY,
                    )
                )
                seen.extend(r.info.run_id for r in page.runs)
                token = page.next_page_token
                if not token:
                    break
            assert len(seen) == len(set(seen)), "a run appeared on two pages"
            assert existing <= set(seen), "a run that existed before paging was skipped"
    finally:
        stop.set()
        writer.join()
