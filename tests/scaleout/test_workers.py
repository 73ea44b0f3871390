"""`trackway server --workers N`: N processes listen on one port (SO_REUSEPORT), writes
from many clients land exactly once whichever worker takes them, SIGTERM stops every
worker cleanly, and SQLite is refused with one clear line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import psutil
import pytest

from tests.support.procs import ServerProcess, free_port
from trackway.client import TrackwayClient
from trackway.client.entities import Metric

WORKERS = 3
CLIENTS = 12
BATCHES = 5  # per client
POINTS = 100  # per batch


def _listeners(parent: int, port: int, wanted: int, timeout: float = 60.0) -> set[int]:
    """The descendants of `parent` that listen on `port`, once there are `wanted` of them
    (the first answers health checks while the others may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        found = set()
        for child in psutil.Process(parent).children(recursive=True):
            try:
                sockets = child.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets):
                found.add(child.pid)
        if len(found) >= wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True)
def test_workers_share_a_port_write_once_and_stop_together(
    db_url: str, artifact_root: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        db_url, artifact_root, tmp_path / "server.log", extra_args=["--workers", str(WORKERS)]
    )
    try:
        workers = _listeners(server.proc.pid, server.port, WORKERS)
        assert len(workers) == WORKERS  # N processes, one port

        with TrackwayClient(f"grpc://{server.target}") as setup:
            exp = setup.create_experiment("workers")
            runs = [setup.create_run(exp).info.run_id for _ in range(CLIENTS)]
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                # A client (and connection) of its own: the kernel picks its worker.
                with TrackwayClient(f"grpc://{server.target}") as client:
                    for b in range(BATCHES):
                        points = [Metric("m", float(s), b * POINTS + s, 0) for s in range(POINTS)]
                        # Sent twice with one request id, on two connections: the second
                        # is answered from the first, whichever worker takes it.
                        request_id = f"w{i}-b{b}".ljust(32, "0")
                        client.log_batch(runs[i], points, request_id=request_id)
                        with TrackwayClient(f"grpc://{server.target}") as again:
                            again.log_batch(runs[i], points, request_id=request_id)
                    for step in range(BATCHES * POINTS, 2 * BATCHES * POINTS):
                        client.logger.log_metric(runs[i], "m", float(step), step=step)
                    client.flush(timeout=60)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert not errors, errors
        with TrackwayClient(f"grpc://{server.target}") as reader:
            for run_id in runs:
                steps = sorted(p.step for p in reader.get_metric_history(run_id, "m"))
                assert steps == list(range(2 * BATCHES * POINTS))

        assert server.terminate(60) == 0  # SIGTERM to the parent: every worker drains
        for pid in workers:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        with (
            grpc.insecure_channel(server.target) as channel,
            pytest.raises(grpc.FutureTimeoutError),
        ):
            grpc.channel_ready_future(channel).result(timeout=1)  # nobody listens any more
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_worker_that_dies_takes_the_set_down(
    db_url: str, artifact_root: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        db_url, artifact_root, tmp_path / "server.log", extra_args=["--workers", "2"]
    )
    try:
        workers = _listeners(server.proc.pid, server.port, 2)
        assert len(workers) == 2
        lost, other = sorted(workers)
        psutil.Process(lost).kill()
        # The parent stops the other worker and exits non-zero, for its supervisor to see.
        assert server.proc.wait(60) != 0
        assert not psutil.pid_exists(other) or psutil.Process(other).status() == "zombie"
    finally:
        server.close()


def test_sqlite_with_several_workers_is_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackway.cli",
            "server",
            "--workers",
            "2",
            "--grpc-port",
            str(free_port()),
            "--http-port",
            "-1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'one.db'}",
            "--artifacts-destination",
            (tmp_path / "artifacts").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--workers 2 needs a PostgreSQL or MySQL store" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "one.db").exists()  # refused before anything was made
