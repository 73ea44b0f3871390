"""Fixtures of the SDK tests: an in-process SQLite server, a client, a clean fluent state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackway.client import TrackwayClient
from trackway.config import ServerConfig
from trackway.fluent import state
from trackway.server.app import RunningServer, create_server


def server_config(db_url: str, artifact_root: str) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        grpc_port=0,
        http_port=0,
        backend_store_uri=db_url,
        artifacts_destination=artifact_root,
        threads=32,
    )


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server on SQLite, for tests whose subject is the client rather than the store."""
    running = create_server(
        server_config(f"sqlite:///{tmp_path / 'trackway.db'}", (tmp_path / "artifacts").as_uri())
    )
    yield running
    running.stop(grace=1.0)


def tracking_uri(running: RunningServer, transport: str) -> str:
    """The server's URI for the SDK: its gRPC port, or its HTTP port (the `/v1/` API)."""
    if transport == "http":
        return f"http://127.0.0.1:{running.http_port}"
    return f"grpc://127.0.0.1:{running.port}"


@pytest.fixture(params=["grpc", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    """Every test of `client` runs over both of the SDK's transports."""
    return str(request.param)


@pytest.fixture
def client(sqlite_server: RunningServer, transport: str) -> Iterator[TrackwayClient]:
    with TrackwayClient(tracking_uri(sqlite_server, transport), retry_seconds=5) as c:
        yield c


@pytest.fixture
def run_id(client: TrackwayClient) -> str:
    eid = client.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    return client.create_run(eid).info.run_id


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TRACKWAY_TRACKING_URI",
        "TRACKWAY_RUN_ID",
        "TRACKWAY_EXPERIMENT_ID",
        "TRACKWAY_EXPERIMENT_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKWAY_HTTP_PORT", "-1")  # servers in subprocesses: no REST port


@pytest.fixture
def fluent(
    sqlite_server: RunningServer, clean_env: None, transport: str
) -> Iterator[TrackwayClient]:
    """The fluent API pointed at a fresh server (over each transport), with an experiment
    of its own; yields a separate gRPC client to check what reached the server."""
    import trackway

    state.reset()
    trackway.set_tracking_uri(tracking_uri(sqlite_server, transport))
    trackway.set_experiment(f"fluent-{uuid.uuid4().hex[:8]}")
    with TrackwayClient(f"grpc://127.0.0.1:{sqlite_server.port}") as checker:
        yield checker
    while trackway.active_run() is not None:
        trackway.end_run()
    state.reset()
