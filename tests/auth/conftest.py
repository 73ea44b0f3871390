"""Fixtures of the auth tests: servers with `--auth token` (in-process, and as real
processes), users with tokens, and a throwaway PKI for the TLS tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from tests.auth import pki
from trackway.auth.entities import ADMIN, USER
from trackway.client.channel import BearerToken
from trackway.config import ServerConfig
from trackway.gen.admin.v1 import admin_service_pb2_grpc
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc
from trackway.gen.registry.v1 import model_registry_service_pb2_grpc
from trackway.gen.tracking.v1 import logged_model_service_pb2_grpc, tracking_service_pb2_grpc
from trackway.server.app import RunningServer, create_server


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Stubs:
    """The services' stubs on one channel."""

    channel: grpc.Channel

    def __post_init__(self) -> None:
        self.tracking = tracking_service_pb2_grpc.TrackingServiceStub(self.channel)
        self.artifacts = artifact_service_pb2_grpc.ArtifactServiceStub(self.channel)
        self.registry = model_registry_service_pb2_grpc.ModelRegistryServiceStub(self.channel)
        self.logged = logged_model_service_pb2_grpc.LoggedModelServiceStub(self.channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(self.channel)


@dataclass
class Secured:
    """A running server with `--auth token`, and the users the tests made on it."""

    running: RunningServer
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"

    def user(self, name: str, *, admin: bool = False) -> str:
        """Creates a user (through the admin service, as the CLI's direct path does)
        and returns a token of theirs."""
        security = self.running.security
        assert security is not None
        security.admin.create_user(name, ADMIN if admin else USER)
        _, secret = security.admin.create_token(name, "test")
        self.tokens[name] = secret
        return secret

    def stubs(self, token: str | None = None) -> Stubs:
        channel = grpc.insecure_channel(self.target)
        if token:
            channel = grpc.intercept_channel(channel, BearerToken(token))
        return Stubs(channel)


def secured_config(db_url: str, artifact_root: str, **overrides: object) -> ServerConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "grpc_port": 0,
        "http_port": 0,
        "backend_store_uri": db_url,
        "artifacts_destination": artifact_root,
        "threads": 16,
        "auth": "token",
        "run_lease_sweep_seconds": 0,
    }
    values.update(overrides)
    return ServerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    running = create_server(
        secured_config(f"sqlite:///{tmp_path / 'auth.db'}", (tmp_path / "artifacts").as_uri())
    )
    found = Secured(running)
    found.user("root", admin=True)
    yield found
    running.stop(grace=1.0)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> pki.Pki:
    return pki.make(tmp_path_factory.mktemp("pki"))
