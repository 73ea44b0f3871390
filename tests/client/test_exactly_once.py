"""Acceptance: many writers into one run, and a server outage, lose and duplicate nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import trackway
from tests.support.procs import ServerProcess
from trackway.client import LoggerConfig, TrackwayClient
from trackway.fluent import state

WORKERS = 8
POINTS = 10_000

WORKER = textwrap.dedent(
    """
    import os, trackway
    rank = int(os.environ["RANK"])
    with trackway.start_run():  # attaches to TRACKWAY_RUN_ID
        for i in range(POINTS):
            trackway.log_metric("loss", i * 0.001, step=rank * POINTS + i)
        trackway.log_param(f"worker_{rank}", os.getpid())
    """
).replace("POINTS", str(POINTS))


@pytest.fixture
def server_process(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    monkeypatch.setenv("TRACKWAY_HTTP_PORT", "-1")
    proc = ServerProcess(db_url, (tmp_path / "artifacts").as_uri(), tmp_path / "server.log")
    yield proc
    proc.close()


@pytest.mark.slow
def test_eight_processes_share_one_run_exactly_once(server_process: ServerProcess) -> None:
    with TrackwayClient(server_process.target) as client:
        run_id = client.create_run(client.create_experiment(uuid.uuid4().hex)).info.run_id
        env = {
            **os.environ,
            "TRACKWAY_TRACKING_URI": f"grpc://{server_process.target}",
            "TRACKWAY_RUN_ID": run_id,
            "TRACKWAY_LOGGER_BATCH_POINTS": "500",  # many batches per writer
        }
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env={**env, "RANK": str(rank), "TRACKWAY_WORKER": f"rank-{rank}"},
                stderr=subprocess.PIPE,
                text=True,
            )
            for rank in range(WORKERS)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err
            assert err == ""
        elapsed = time.monotonic() - started
        points = client.get_metric_history(run_id, "loss")
        steps = [p.step for p in points]
        assert len(steps) == WORKERS * POINTS
        assert sorted(steps) == list(range(WORKERS * POINTS))
        assert sorted({p.worker for p in points}) == sorted(f"rank-{r}" for r in range(WORKERS))
        for rank in range(WORKERS):
            # Each worker's label reached the server with every one of its points, once.
            own = client.get_metric_history(run_id, "loss", worker=f"rank-{rank}")
            assert [p.step for p in own] == list(range(rank * POINTS, (rank + 1) * POINTS))
            assert {p.worker for p in own} == {f"rank-{rank}"}
        run = client.get_run(run_id)
        assert len(run.data.params) == WORKERS
        assert run.info.status == "RUNNING"  # attached workers leave the status to the creator
    print(f"{WORKERS} x {POINTS} points in {elapsed:.1f} s")


def _log_through_outage(
    server: ServerProcess, tmp_path: Path, db_url: str, outage: str, transport: str = "grpc"
) -> tuple[int, list[int], ServerProcess]:
    """Logs steadily for ~16 s; 3 s in, the server goes away for 10 s (killed and
    restarted on the same port, or stopped and continued). Returns points logged, the
    steps the server holds, and the server now running. Over `http`, the logger sends
    LogBatch calls to the HTTP port instead of a LogStream."""
    state.reset()
    trackway.set_tracking_uri(server.target if transport == "grpc" else server.http_url)
    trackway.set_experiment(f"outage-{uuid.uuid4().hex[:6]}")
    run = trackway.start_run()
    step = 0
    started = time.monotonic()
    down_at, up_at = started + 3, started + 13
    is_down = False
    marks: list[int] = []
    while time.monotonic() < started + 16:
        for _ in range(50):
            trackway.log_metric("loss", step * 0.5, step=step)
            step += 1
        now = time.monotonic()
        if not is_down and down_at <= now < up_at:
            if outage == "kill":
                server.kill9()
            else:
                server.proc.send_signal(signal.SIGSTOP)
            is_down = True
            marks.append(step)
        elif is_down and now >= up_at:
            if outage == "kill":
                server.close()
                server = ServerProcess(
                    db_url,
                    (tmp_path / "artifacts").as_uri(),
                    tmp_path / "server2.log",
                    port=server.port,
                    http_port=server.http_port,
                )
            else:
                server.proc.send_signal(signal.SIGCONT)
            is_down = False
            marks.append(step)
        time.sleep(0.005)
    # The training loop did not stall while the server was away: it kept logging.
    assert len(marks) == 2 and marks[1] - marks[0] > 10_000, marks
    trackway.end_run()
    logger = run.logger
    assert logger.stats.streams_opened >= (2 if outage == "kill" else 1)
    with TrackwayClient(server.target) as check:
        steps = [p.step for p in check.get_metric_history(run.run_id, "loss")]
        assert check.get_run(run.run_id).info.status == "FINISHED"
    state.reset()
    return step, steps, server


@pytest.mark.slow
@pytest.mark.parametrize(
    ("outage", "transport"), [("kill", "grpc"), ("stop", "grpc"), ("kill", "http")]
)
def test_an_outage_loses_and_duplicates_nothing(
    server_process: ServerProcess,
    db_url: str,
    tmp_path: Path,
    outage: str,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TRACKWAY_RUN_ID", "TRACKWAY_EXPERIMENT_ID", "TRACKWAY_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert LoggerConfig.from_env().buffer_points >= 1_000_000
    logged, steps, server = _log_through_outage(server_process, tmp_path, db_url, outage, transport)
    try:
        assert len(steps) == logged
        assert sorted(steps) == list(range(logged))
    finally:
        if server is not server_process:
            server.close()
