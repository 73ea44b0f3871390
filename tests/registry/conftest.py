"""Fixtures for the registry tests: stubs on the per-test server (SQLite and PostgreSQL),
a module-wide server for read-only tables, and small builders.

Errors are checked as in the tracking suite (`tests.test_tracking_rpcs.check_error`): the
status code, the ErrorInfo reason, the words of the message, and the BadRequest field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from tests.conftest import _drop_postgres_database, _fresh_postgres_database
from trackway.config import ServerConfig
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2 as mvpb
from trackway.gen.registry.v1 import registered_model_pb2 as rmpb
from trackway.gen.registry.v1.model_registry_service_pb2_grpc import ModelRegistryServiceStub
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.server.app import RunningServer, create_server

ABORTED = (grpc.StatusCode.ABORTED, "RESOURCE_CONFLICT")


def start_server(db_url: str, artifact_root: str) -> RunningServer:
    return create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            threads=32,
        )
    )


@pytest.fixture
def registry(channel: grpc.Channel) -> ModelRegistryServiceStub:
    return ModelRegistryServiceStub(channel)


@pytest.fixture
def tracking(channel: grpc.Channel) -> TrackingServiceStub:
    return TrackingServiceStub(channel)


@dataclass
class Api:
    """Both stubs of one server, and where its artifacts live."""

    registry: ModelRegistryServiceStub
    tracking: TrackingServiceStub
    server: RunningServer
    root: str


@pytest.fixture
def api(server: RunningServer, channel: grpc.Channel, artifact_root: str) -> Api:
    return Api(
        ModelRegistryServiceStub(channel), TrackingServiceStub(channel), server, artifact_root
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """A server shared by a module's read-only tests, on each backend."""
    folder = tmp_path_factory.mktemp("registry")
    dropped = ""
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'trackway.db'}"
    else:
        url, dropped = _fresh_postgres_database()
    root = (folder / "artifacts").as_uri()
    running = start_server(url, root)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield Api(ModelRegistryServiceStub(channel), TrackingServiceStub(channel), running, root)
    channel.close()
    running.stop(grace=1.0)
    if dropped:
        _drop_postgres_database(dropped)


def unique(prefix: str = "model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_run(tracking: TrackingServiceStub, **kwargs: Any) -> Any:
    """A run in a fresh experiment; returns its RunInfo."""
    exp = tracking.CreateExperiment(tpb.CreateExperimentRequest(name=unique("exp"))).experiment
    request = tpb.CreateRunRequest(experiment_id=exp.experiment_id, **kwargs)
    return tracking.CreateRun(request).run.info


def create_model(stub: ModelRegistryServiceStub, name: str | None = None, **kw: Any) -> Any:
    request = pb.CreateRegisteredModelRequest(name=unique() if name is None else name, **kw)
    return stub.CreateRegisteredModel(request).registered_model


def create_version(stub: ModelRegistryServiceStub, name: str, source: str, **kw: Any) -> Any:
    request = pb.CreateModelVersionRequest(name=name, source=source, **kw)
    return stub.CreateModelVersion(request).model_version


def get_version(stub: ModelRegistryServiceStub, name: str, version: int) -> Any:
    return stub.GetModelVersion(pb.GetModelVersionRequest(name=name, version=version)).model_version


def get_model(stub: ModelRegistryServiceStub, name: str) -> Any:
    return stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name=name)).registered_model


def model_tag(key: str, value: str) -> rmpb.RegisteredModelTag:
    return rmpb.RegisteredModelTag(key=key, value=value)


def version_tag(key: str, value: str) -> mvpb.ModelVersionTag:
    return mvpb.ModelVersionTag(key=key, value=value)


def tags_of(message: Any) -> dict[str, str]:
    return {t.key: t.value for t in message.tags}
