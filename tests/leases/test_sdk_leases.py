"""Leases from the Python SDK: TrackwayClient.heartbeat_run, the heartbeat thread that
start_run runs until end_run, and a real process killed by SIGKILL whose run the server
then fails."""

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
from trackway.client import TrackwayClient
from trackway.client.heartbeat import LEASE_ENV
from trackway.config import ServerConfig
from trackway.errors import FailedPrecondition
from trackway.fluent import state
from trackway.server.app import RunningServer, create_server

SWEEP_SECONDS = 0.2
REASON_TAG = "trackway.failure_reason"


@pytest.fixture
def sweeping_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A SQLite server that sweeps expired leases five times a second."""
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            backend_store_uri=f"sqlite:///{tmp_path / 'trackway.db'}",
            artifacts_destination=(tmp_path / "artifacts").as_uri(),
            threads=16,
            run_lease_sweep_seconds=SWEEP_SECONDS,
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def checker(sweeping_server: RunningServer) -> Iterator[TrackwayClient]:
    with TrackwayClient(f"grpc://127.0.0.1:{sweeping_server.port}", retry_seconds=5) as c:
        yield c


@pytest.fixture
def fluent(
    sweeping_server: RunningServer, checker: TrackwayClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TrackwayClient]:
    """The fluent API on the sweeping server, with one-second leases."""
    for name in ("TRACKWAY_TRACKING_URI", "TRACKWAY_RUN_ID", "TRACKWAY_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(LEASE_ENV, "1")
    state.reset()
    trackway.set_tracking_uri(checker.tracking_uri)
    trackway.set_experiment(f"leases-{uuid.uuid4().hex[:8]}")
    yield checker
    while trackway.active_run() is not None:
        trackway.end_run()
    state.reset()


def test_client_creates_leased_runs_and_heartbeats_them(checker: TrackwayClient) -> None:
    eid = checker.create_experiment("client-leases")
    run_id = checker.create_run(eid, lease_seconds=1).info.run_id
    first = checker.heartbeat_run(run_id)
    time.sleep(0.6)
    second = checker.heartbeat_run(run_id, lease_seconds=2)
    assert second >= first + 1_500  # later, and a longer lease
    time.sleep(1.2)  # past the first lease, within the second
    assert checker.get_run(run_id).info.status == "RUNNING"
    plain = checker.create_run(eid).info.run_id
    with pytest.raises(FailedPrecondition, match="no lease"):
        checker.heartbeat_run(plain)


def test_start_run_heartbeats_until_end_run(fluent: TrackwayClient) -> None:
    run = trackway.start_run()
    client = run.client
    assert client.heartbeats.runs() == [run.run_id]
    trackway.log_metric("loss", 1.0)
    time.sleep(3.0)  # three leases, quiet but for the heartbeats
    assert fluent.get_run(run.run_id).info.status == "RUNNING"
    assert client.heartbeats.beats >= 4
    trackway.end_run()
    assert client.heartbeats.runs() == []
    time.sleep(1.0 + 3 * SWEEP_SECONDS)
    ended = fluent.get_run(run.run_id)
    assert ended.info.status == "FINISHED" and REASON_TAG not in ended.data.tags


def test_no_lease_when_the_environment_says_zero(
    fluent: TrackwayClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "0")
    with trackway.start_run() as run:
        assert run.client.heartbeats.runs() == []
        with pytest.raises(FailedPrecondition, match="no lease"):
            fluent.heartbeat_run(run.run_id)
    monkeypatch.setenv(LEASE_ENV, "soon")
    with pytest.raises(ValueError, match=LEASE_ENV):
        trackway.start_run()


def test_resuming_a_run_the_server_failed_leases_it_again(fluent: TrackwayClient) -> None:
    eid = fluent.create_experiment("resume-leases")
    run_id = fluent.create_run(eid, lease_seconds=1).info.run_id
    deadline = time.monotonic() + 5
    while fluent.get_run(run_id).info.status != "FAILED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with trackway.start_run(run_id=run_id) as run:
        assert run.client.heartbeats.runs() == [run_id]
        time.sleep(2.0)
        assert fluent.get_run(run_id).info.status == "RUNNING"
    assert fluent.get_run(run_id).info.status == "FINISHED"


def test_heartbeats_stop_for_a_run_ended_elsewhere(
    checker: TrackwayClient, capfd: pytest.CaptureFixture[str]
) -> None:
    eid = checker.create_experiment("ended-elsewhere")
    run_id = checker.create_run(eid, lease_seconds=1).info.run_id
    with TrackwayClient(checker.tracking_uri) as owner:
        owner.heartbeats.add(run_id, 1)
        checker.set_terminated(run_id, "KILLED")
        deadline = time.monotonic() + 5
        while owner.heartbeats.runs():
            assert time.monotonic() < deadline, "the heartbeat thread kept a KILLED run"
            time.sleep(0.05)
    err = capfd.readouterr().err
    assert f"no more heartbeats for run {run_id}" in err and "KILLED" in err
    assert checker.get_run(run_id).info.status == "KILLED"


_WRITER = """
import sys, time, trackway
run = trackway.start_run()
trackway.log_metric("loss", 0.5, step=1)
trackway.flush()
print(run.run_id, flush=True)
time.sleep(600)
"""


def test_a_sigkilled_writer_leaves_a_failed_run(
    db_url: str, artifact_root: str, tmp_path: Path
) -> None:
    lease, sweep = 2, 0.5
    server = ServerProcess(
        db_url,
        artifact_root,
        tmp_path / "server.log",
        extra_args=["--run-lease-sweep-seconds", str(sweep)],
    )
    writer = None
    try:
        env = {**os.environ, "TRACKWAY_TRACKING_URI": f"grpc://{server.target}", LEASE_ENV: "2"}
        env.pop("TRACKWAY_RUN_ID", None)
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_WRITER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert writer.stdout is not None
        run_id = writer.stdout.readline().strip()
        assert len(run_id) == 32, writer.stderr.read() if writer.stderr else ""
        with TrackwayClient(f"grpc://{server.target}", retry_seconds=5) as client:
            time.sleep(2 * lease)  # alive: its heartbeats outlast two leases
            assert client.get_run(run_id).info.status == "RUNNING"
            writer.send_signal(signal.SIGKILL)
            writer.wait(10)
            killed = time.monotonic()
            while (run := client.get_run(run_id)).info.status == "RUNNING":
                assert time.monotonic() - killed < lease + sweep + 3.0, "still RUNNING"
                time.sleep(0.1)
            assert run.info.status == "FAILED"
            assert run.data.tags[REASON_TAG].startswith("lease expired: no heartbeat since ")
            assert run.info.end_time is not None and run.info.end_time <= killed_ms(killed)
            assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.5]
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
            writer.wait(10)
        server.close()


def killed_ms(killed_monotonic: float) -> int:
    """The wall-clock epoch ms of a time.monotonic() reading taken in this process."""
    return int((time.time() - (time.monotonic() - killed_monotonic)) * 1000)
