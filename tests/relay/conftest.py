"""Relays for tests: in this process (fast checks) or as `trackway server --forward-to`
child processes (outages, kill -9), always in front of a real central server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procs import ServerProcess
from trackway.client import TrackwayClient
from trackway.config import ServerConfig
from trackway.relay.server import RunningRelay, create_relay
from trackway.relay.spool import Depth, depth_of
from trackway.server.app import RunningServer

# A relay has no store; ServerProcess passes these flags anyway, and the relay ignores them.
_NO_STORE = "sqlite:///relay-has-no-store.db"


@pytest.fixture
def relay(server: RunningServer, tmp_path: Path) -> Iterator[RunningRelay]:
    """An in-process relay in front of the in-process central `server`."""
    running = create_relay(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            forward_to=f"grpc://127.0.0.1:{server.port}",
            spool_dir=str(tmp_path / "spool"),
            threads=16,
        )
    )
    yield running
    running.stop(1.0)


@pytest.fixture
def relay_client(relay: RunningRelay) -> Iterator[TrackwayClient]:
    with TrackwayClient(f"grpc://127.0.0.1:{relay.port}", retry_seconds=0) as client:
        yield client


def start_relay(forward_to: str, spool_dir: Path, log_path: Path, port: int = 0) -> ServerProcess:
    """`trackway server` in relay mode as a child process, configured through the
    TRACKWAY_FORWARD_TO and TRACKWAY_SPOOL_DIR variables that its flags read."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKWAY_FORWARD_TO", forward_to)
        env.setenv("TRACKWAY_SPOOL_DIR", str(spool_dir))
        return ServerProcess(_NO_STORE, spool_dir.as_uri(), log_path, port)


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"not reached within {timeout} s: {what or predicate}")


def wait_drained(depth: Callable[[], Depth], timeout: float = 60.0) -> None:
    wait_for(lambda: depth().writes == 0, timeout, "the relay's spool to empty")


def spool_depth(spool_dir: Path) -> Callable[[], Depth]:
    return lambda: depth_of(spool_dir)
