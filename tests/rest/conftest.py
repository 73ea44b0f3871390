"""Fixtures for the MLflow REST gateway: one in-process server per backend, shared by the
whole package (MLflow's imports and a server start are slow), and the real `mlflow`
client pointed at it.

Tests make their own experiments with unique names, so sharing a server is safe. The
PostgreSQL server skips without TRACKWAY_TEST_POSTGRES_URL, as everywhere else.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import requests

from tests.conftest import (
    _drop_mysql_database,
    _drop_postgres_database,
    _fresh_mysql_database,
    _fresh_postgres_database,
)
from trackway.config import ServerConfig
from trackway.gen.registry.v1.model_registry_service_pb2_grpc import ModelRegistryServiceStub
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.server.app import RunningServer, create_server

# MLflow's client retries 5xx answers with exponential backoff; tests want the answer.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_TRACKING_INSECURE_TLS", "false")
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))


@dataclass
class Gateway:
    """A running server, its REST base URL, and gRPC stubs on the same server."""

    server: RunningServer
    url: str
    root: str
    tracking: TrackingServiceStub
    registry: ModelRegistryServiceStub
    backend: str

    def call(
        self, method: str, route: str, body: Any = None, /, **params: Any
    ) -> requests.Response:
        """One raw REST call; `route` is below /api/2.0/, `params` its query string."""
        return requests.request(
            method,
            f"{self.url}/api/2.0/{route}",
            json=body,
            params=params or None,
            timeout=60,
        )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mysql"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp(f"rest-{request.param}")
    dropped = ""
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'trackway.db'}"
    elif request.param == "mysql":
        url, dropped = _fresh_mysql_database()
    else:
        url, dropped = _fresh_postgres_database()
    root = (folder / "artifacts").as_uri()
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=url,
            artifacts_destination=root,
            threads=32,
            # A name clients may reach it by, besides loopback (the Host header tests).
            allowed_hosts="tracking.example",
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield Gateway(
        running,
        f"http://127.0.0.1:{running.http_port}",
        root,
        TrackingServiceStub(channel),
        ModelRegistryServiceStub(channel),
        str(request.param),
    )
    channel.close()
    running.stop(grace=1.0)
    if dropped:
        drop = _drop_mysql_database if request.param == "mysql" else _drop_postgres_database
        drop(dropped)


@pytest.fixture(scope="session")
def sqlite_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A SQLite-only server, for the slow end-to-end flows that need one backend."""
    folder = tmp_path_factory.mktemp("rest-e2e")
    root = (folder / "artifacts").as_uri()
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=f"sqlite:///{folder / 'trackway.db'}",
            artifacts_destination=root,
            threads=32,
            # A name clients may reach it by, besides loopback (the Host header tests).
            allowed_hosts="tracking.example",
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield Gateway(
        running,
        f"http://127.0.0.1:{running.http_port}",
        root,
        TrackingServiceStub(channel),
        ModelRegistryServiceStub(channel),
        "sqlite",
    )
    channel.close()
    running.stop(grace=1.0)


def _point_mlflow(url: str) -> Iterator[Any]:
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = url
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    try:
        yield mlflow
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture
def mlflow(gateway: Gateway) -> Iterator[Any]:
    """The real `mlflow` module, its tracking and registry URIs on `gateway`."""
    yield from _point_mlflow(gateway.url)


@pytest.fixture
def mlflow_sqlite(sqlite_gateway: Gateway) -> Iterator[Any]:
    yield from _point_mlflow(sqlite_gateway.url)


@pytest.fixture
def client(mlflow: Any) -> Any:
    return mlflow.MlflowClient()
