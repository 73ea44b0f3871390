"""`trackway server --forward-to` as real processes: a 30 s central outage under a job
logging 200,000 points, `kill -9` of the relay mid-forwarding, SIGTERM, a bad flag."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.relay.conftest import spool_depth, start_relay, wait_drained, wait_for
from tests.support.procs import ServerProcess
from trackway.client import LoggerConfig, TrackwayClient
from trackway.errors import Unavailable
from trackway.relay.spool import depth_of

OUTAGE_SECONDS = 30.0
POINTS = 200_000
CHUNK = 10_000


def _value(step: int) -> float:
    return 0.5 + step / 7.0


def _central(tmp_path: Path, port: int = 0) -> ServerProcess:
    return ServerProcess(
        f"sqlite:///{tmp_path / 'central.db'}",
        (tmp_path / "artifacts").as_uri(),
        tmp_path / "central.log",
        port,
    )


def _check_exactly_once(central: ServerProcess, run_id: str, total: int) -> None:
    """Every step 0..total-1 once, each with its own value."""
    with TrackwayClient(f"grpc://{central.target}") as reader:
        points = reader.get_metric_history(run_id, "loss")
    steps = [p.step for p in points]
    assert len(points) == total, f"{len(points)} points, expected {total}"
    assert len(set(steps)) == total, "a point was written twice"
    assert sorted(steps) == list(range(total))
    wrong = [p.step for p in points if p.value != _value(p.step)]
    assert not wrong, f"{len(wrong)} points carry another step's value, e.g. {wrong[:5]}"


@pytest.mark.slow
def test_central_down_for_30_s_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    central = _central(tmp_path)
    spool = tmp_path / "spool"
    relay = start_relay(f"grpc://{central.target}", spool, tmp_path / "relay.log")
    try:
        with TrackwayClient(f"grpc://{relay.target}", retry_seconds=0) as job:
            experiment_id = job.create_experiment("outage")
            run_id = job.create_run(experiment_id).info.run_id
            job.log_param(run_id, "phase", "before")

            central.kill9()
            central.close()
            down_at = time.monotonic()
            with pytest.raises(Unavailable):
                job.get_run(run_id)  # reads need central; the relay says so at once

            flush_seconds = []
            for first in range(0, POINTS, CHUNK):
                for step in range(first, first + CHUNK):
                    job.logger.log_metric(run_id, "loss", _value(step), step=step)
                started = time.monotonic()
                job.flush(timeout=30)
                flush_seconds.append(time.monotonic() - started)
            job.logger.log_param(run_id, "phase_during", "outage")
            job.logger.set_tag(run_id, "logged", "while central was down")
            job.flush(timeout=30)
            logged_in = time.monotonic() - down_at

            # Every point is acknowledged by the relay and waits in its spool.
            assert depth_of(spool).points == POINTS
            assert logged_in < OUTAGE_SECONDS, f"logging took {logged_in:.1f} s"
            assert max(flush_seconds) < 2.0, f"a flush blocked: {flush_seconds}"

            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            central = _central(tmp_path, port=central.port)
            wait_drained(spool_depth(spool), timeout=120)

            _check_exactly_once(central, run_id, POINTS)
            job.set_terminated(run_id, "FINISHED")  # proxied again
            run = job.get_run(run_id)
            assert run.info.status == "FINISHED"
            assert run.data.params == {"phase": "before", "phase_during": "outage"}
            assert run.data.tags["logged"] == "while central was down"
        relay_log = (tmp_path / "relay.log").read_text()
        assert "does not take writes now" in relay_log
        assert "is back after" in relay_log
    finally:
        relay.close()
        central.close()


@pytest.mark.slow
def test_relay_killed_mid_forwarding_restarts_and_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    central = _central(tmp_path)
    spool = tmp_path / "spool"
    relay = start_relay(f"grpc://{central.target}", spool, tmp_path / "relay.log")
    total, extra = 300_000, 20_000
    # Small batches: many spool entries, so that the kill lands in the middle of them.
    small = LoggerConfig.from_env(batch_points=1_000)
    try:
        with TrackwayClient(f"grpc://{relay.target}", retry_seconds=30, logger_config=small) as job:
            run_id = job.create_run(job.create_experiment("kill-relay")).info.run_id
            central.kill9()  # the spool fills while central is away
            central.close()
            for step in range(total):
                job.logger.log_metric(run_id, "loss", _value(step), step=step)
            job.flush(timeout=60)
            spooled = depth_of(spool)
            assert spooled.points == total

            central = _central(tmp_path, port=central.port)
            wait_for(lambda: depth_of(spool).writes < spooled.writes, 60, "forwarding to start")
            relay.kill9()
            left = depth_of(spool)
            assert 0 < left.writes < spooled.writes, (
                f"the relay was killed after forwarding everything ({left}); nothing to test"
            )

            # The job goes on while its relay is gone: the SDK holds the points, and
            # resends what the new relay has not spooled.
            for step in range(total, total + extra):
                job.logger.log_metric(run_id, "loss", _value(step), step=step)
            relay.close()
            relay = start_relay(
                f"grpc://{central.target}", spool, tmp_path / "relay.log", port=relay.port
            )
            job.flush(timeout=60)
            wait_drained(spool_depth(spool), timeout=120)
        _check_exactly_once(central, run_id, total + extra)
    finally:
        relay.close()
        central.close()


@pytest.mark.slow
def test_sigterm_forwards_what_is_spooled_then_exits_zero(tmp_path: Path) -> None:
    central = _central(tmp_path)
    spool = tmp_path / "spool"
    relay = start_relay(f"grpc://{central.target}", spool, tmp_path / "relay.log")
    try:
        with TrackwayClient(f"grpc://{relay.target}") as job:
            run_id = job.create_run(job.create_experiment("drain")).info.run_id
            for step in range(50_000):
                job.logger.log_metric(run_id, "loss", _value(step), step=step)
            job.flush(timeout=30)
        assert relay.terminate() == 0, (tmp_path / "relay.log").read_text()
        assert depth_of(spool).writes == 0
        _check_exactly_once(central, run_id, 50_000)
    finally:
        relay.close()
        central.close()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://central:50051", "expected grpc://host:port"),
        ("central:50051", "expected grpc://host:port"),
        ("grpc://central", "no port"),
        ("grpc://:50051", "no host"),
        ("grpc://central:99999", "port"),
        ("grpc://central:50051/v1", "no path"),
        ("grpc://127.0.0.1:{own}", "own gRPC port"),
    ],
)
def test_a_bad_forward_to_fails_with_one_line(value: str, says: str, tmp_path: Path) -> None:
    own = 50_000 + uuid.uuid4().int % 10_000
    result = subprocess.run(
        [sys.executable, "-m", "trackway.cli", "server", "--grpc-port", str(own)],
        env={
            **os.environ,
            "TRACKWAY_FORWARD_TO": value.format(own=own),
            "TRACKWAY_SPOOL_DIR": str(tmp_path / "spool"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trackway: error: --forward-to"), lines
    assert says in lines[0]
    assert not (tmp_path / "spool").exists()  # refused before anything was created
