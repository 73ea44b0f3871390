"""The background logger: fast calls, one stream, acks, failures surfacing at flush."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.client.conftest import server_config
from tests.support.procs import free_port
from trackway.client import LoggerConfig, TrackwayClient
from trackway.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from trackway.server.app import RunningServer, create_server


def _steps(client: TrackwayClient, run_id: str, key: str = "loss") -> list[int]:
    return [p.step for p in client.get_metric_history(run_id, key)]


def test_points_params_and_tags_arrive(client: TrackwayClient, run_id: str) -> None:
    logger = client.logger
    for step in range(5_000):
        logger.log_metric(run_id, "loss", 1.0 / (step + 1), step)
    logger.log_metrics(run_id, {"a": 1, "b": 2.5}, step=7)
    logger.log_param(run_id, "lr", 0.1)
    logger.log_param(run_id, "lr", "0.1")  # the same value again is fine
    logger.set_tag(run_id, "phase", "warmup")
    logger.set_tag(run_id, "phase", "train")
    logger.flush()
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["phase"] == "train"
    assert run.data.metrics["a"] == 1.0 and run.data.metrics["b"] == 2.5
    assert _steps(client, run_id) == list(range(5_000))
    assert logger.pending_points() == 0
    assert logger.stats.streams_opened == 1


def test_timestamps_are_fixed_when_logged(client: TrackwayClient, run_id: str) -> None:
    before = time.time_ns() // 1_000_000
    client.logger.log_metric(run_id, "t", 1.0)
    time.sleep(0.3)
    client.logger.log_metric(run_id, "t", 2.0, timestamp=12345)
    client.flush()
    stamps = [p.timestamp for p in client.get_metric_history(run_id, "t")]
    assert before <= stamps[0] <= before + 200
    assert stamps[1] == 12345


def test_bad_calls_raise_at_once(client: TrackwayClient, run_id: str) -> None:
    logger = client.logger
    with pytest.raises(InvalidArgument):
        logger.log_metric(run_id, "../escape", 1.0)
    with pytest.raises(InvalidArgument):
        logger.log_metric("not-a-run", "loss", 1.0)
    with pytest.raises(InvalidArgument):
        logger.log_metric(run_id, "loss", "high")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        logger.log_metric(run_id, "loss", 1.0, step=1.5)  # type: ignore[arg-type]
    logger.log_param(run_id, "depth", 3)
    with pytest.raises(FailedPrecondition, match="write-once"):
        logger.log_param(run_id, "depth", 4)
    logger.flush()


def test_a_deleted_run_fails_at_flush_as_its_own_type(client: TrackwayClient, run_id: str) -> None:
    eid = client.get_run(run_id).info.experiment_id
    other = client.create_run(eid).info.run_id
    client.delete_run(run_id)
    logger = client.logger
    for step in range(100):
        logger.log_metric(run_id, "loss", 0.5, step)
        logger.log_metric(other, "loss", 0.5, step)
    with pytest.raises(FailedPrecondition, match=rf"run {run_id}.*100 points"):
        logger.flush()
    assert _steps(client, other) == list(range(100))  # the other run's points are in
    logger.log_metric(other, "loss", 1.0, 100)
    logger.flush()  # the error was raised once; the stream goes on
    assert len(_steps(client, other)) == 101
    missing = "f" * 32
    logger.log_metric(missing, "loss", 1.0)
    with pytest.raises(NotFound):
        logger.flush()


def test_a_param_refused_by_the_server_spares_the_metrics(
    client: TrackwayClient, run_id: str
) -> None:
    client.log_param(run_id, "p", "server-side")
    logger = client.logger
    logger.log_param(run_id, "p", "client-side")
    for step in range(50):
        logger.log_metric(run_id, "loss", 1.0, step)
    with pytest.raises(FailedPrecondition, match="1 params"):
        logger.flush()
    assert len(_steps(client, run_id)) == 50


def test_a_broken_stream_is_resumed_without_loss_or_duplicates(
    client: TrackwayClient, run_id: str
) -> None:
    logger = client.logger
    cancelled = 0
    for step in range(200_000):
        logger.log_metric(run_id, "loss", float(step), step)
        if step % 20_000 == 10_000:
            time.sleep(0.05)  # let batches get in flight
            session = logger._session
            if session is not None and not session.ended.is_set():
                session.cancel()  # the connection drops with batches in flight
                cancelled += 1
    logger.flush()
    assert cancelled >= 5
    assert logger.stats.streams_opened >= cancelled + 1
    assert logger.stats.batches_resent > 0
    assert _steps(client, run_id) == list(range(200_000))


def _restartable(tmp_path: Path, port: int) -> RunningServer:
    config = server_config(f"sqlite:///{tmp_path / 'r.db'}", (tmp_path / "artifacts").as_uri())
    config.grpc_port = port
    return create_server(config)


def test_a_full_buffer_blocks_until_the_server_is_back(tmp_path: Path) -> None:
    port = free_port()
    server = _restartable(tmp_path, port)
    config = LoggerConfig(batch_points=50, buffer_points=200, window_points=100)
    client = TrackwayClient(f"127.0.0.1:{port}", logger_config=config, retry_seconds=30)
    eid = client.create_experiment("blocking")
    rid = client.create_run(eid).info.run_id
    server.stop(0.5)
    done = threading.Event()

    def produce() -> None:
        for step in range(1_000):
            client.logger.log_metric(rid, "loss", 1.0, step)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.0)
    assert not done.is_set(), "the producer should block on a full buffer, not drop points"
    assert client.logger.stats.blocked_calls >= 1
    with pytest.raises(Unavailable, match="not yet acknowledged"):
        client.logger.flush(timeout=0.5)
    server = _restartable(tmp_path, port)
    producer.join(30)
    assert done.is_set()
    client.flush(timeout=30)
    assert _steps(client, rid) == list(range(1_000))
    client.close()
    server.stop(0.5)


def test_close_drains_then_refuses(sqlite_server: RunningServer) -> None:
    client = TrackwayClient(f"127.0.0.1:{sqlite_server.port}")
    rid = client.create_run(client.create_experiment("close")).info.run_id
    logger = client.logger
    for step in range(1000):
        logger.log_metric(rid, "loss", 1.0, step)
    assert logger.close(timeout=30) == 0
    with pytest.raises(FailedPrecondition, match="closed"):
        logger.log_metric(rid, "loss", 1.0)
    check = TrackwayClient(f"127.0.0.1:{sqlite_server.port}")
    assert len(_steps(check, rid)) == 1000
    check.close()
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_inherit_the_logger(client: TrackwayClient, run_id: str) -> None:
    client.logger.log_metric(run_id, "parent", 1.0)
    pid = os.fork()
    if pid == 0:  # the child: the parent's logger refuses, with a reason
        try:
            client.logger.log_metric(run_id, "child", 1.0)
            code = 1
        except FailedPrecondition as exc:
            code = 0 if "parent process" in str(exc) else 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    client.flush()
    assert len(client.get_metric_history(run_id, "parent")) == 1


def test_the_exit_drain_is_bounded_and_says_what_it_lost(tmp_path: Path) -> None:
    port = free_port()
    server = _restartable(tmp_path, port)
    with TrackwayClient(f"127.0.0.1:{port}") as setup:
        rid = setup.create_run(setup.create_experiment("exit")).info.run_id
    server.stop(0.5)
    script = textwrap.dedent(
        f"""
        from trackway.client import TrackwayClient
        client = TrackwayClient("127.0.0.1:{port}")
        for step in range(500):
            client.logger.log_metric("{rid}", "loss", 1.0, step)
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TRACKWAY_LOGGER_EXIT_TIMEOUT": "2"},
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0
    assert elapsed < 15
    assert "500 points were not acknowledged" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_exit_drain_delivers(sqlite_server: RunningServer) -> None:
    with TrackwayClient(f"127.0.0.1:{sqlite_server.port}") as setup:
        rid = setup.create_run(setup.create_experiment(uuid.uuid4().hex)).info.run_id
        script = textwrap.dedent(
            f"""
            from trackway.client import TrackwayClient
            client = TrackwayClient("127.0.0.1:{sqlite_server.port}")
            for step in range(20_000):
                client.logger.log_metric("{rid}", "loss", 1.0, step)
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert _steps(setup, rid) == list(range(20_000))
