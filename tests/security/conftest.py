"""Fixtures for the security tests: real servers with something worth stealing.

`attack_target` is an in-process server (gRPC and HTTP) on each backend, seeded with an
experiment, a run, a registered model and a logged model, each holding files. Beside its
artifact root lies `outside/`, with a canary file of random bytes: every attack aims at
it, so a leak is found by looking for those bytes in an answer, and a write or delete
that escaped is found by looking at that folder. Symlinks planted inside the run's,
the experiment's and the logged model's folders point at it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import grpc
import pytest

from tests.conftest import _drop_postgres_database, _fresh_postgres_database
from trackway.config import ServerConfig
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.gen.artifacts.v1.artifact_service_pb2_grpc import ArtifactServiceStub
from trackway.gen.registry.v1 import model_registry_service_pb2 as rpb
from trackway.gen.registry.v1.model_registry_service_pb2_grpc import ModelRegistryServiceStub
from trackway.gen.tracking.v1 import logged_model_service_pb2 as lpb
from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1.logged_model_service_pb2_grpc import LoggedModelServiceStub
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.server.app import RunningServer, create_server

BACKENDS = ["sqlite", "postgresql"]
CANARY_NAME = "secret.txt"


@dataclass
class Stubs:
    tracking: TrackingServiceStub
    artifacts: ArtifactServiceStub
    registry: ModelRegistryServiceStub
    logged: LoggedModelServiceStub

    @classmethod
    def on(cls, channel: grpc.Channel) -> Stubs:
        return cls(
            TrackingServiceStub(channel),
            ArtifactServiceStub(channel),
            ModelRegistryServiceStub(channel),
            LoggedModelServiceStub(channel),
        )


@dataclass
class Seeded:
    """What `seed` made on a server."""

    experiment_id: str
    run_id: str
    model_name: str
    logged_model_id: str
    run_dir: str  # the run's artifact folder, relative to the root
    experiment_dir: str
    logged_dir: str
    extra: dict[str, str] = field(default_factory=dict)


def upload(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str, data: bytes) -> None:
    header = apb.UploadHeader(scope=scope, path=path, size=len(data))
    stubs.artifacts.Upload(iter([apb.UploadRequest(header=header), apb.UploadRequest(chunk=data)]))


def seed(stubs: Stubs, root_uri: str) -> Seeded:
    """An experiment with a run, a registered model with a version and an alias, and a
    logged model; each owns a few files."""
    tag = uuid.uuid4().hex[:8]
    exp = stubs.tracking.CreateExperiment(tpb.CreateExperimentRequest(name=f"sec-{tag}"))
    eid = exp.experiment.experiment_id
    run = stubs.tracking.CreateRun(tpb.CreateRunRequest(experiment_id=eid, run_name="r")).run
    rid = run.info.run_id
    stubs.tracking.LogBatch(
        tpb.LogBatchRequest(
            run_id=rid,
            metrics=[
                metric_pb2.Metric(key="loss", value=0.5, timestamp=1, step=s) for s in range(3)
            ],
            params=[run_pb2.Param(key="lr", value="0.1")],
        )
    )
    run_scope = artifact_pb2.ArtifactScope(run_id=rid)
    for path in ("ok.txt", "dir/inner.txt", "model/MLmodel"):
        upload(stubs, run_scope, path, b"harmless")
    exp_scope = artifact_pb2.ArtifactScope(experiment_id=eid)
    upload(stubs, exp_scope, "exp.txt", b"harmless")
    model = f"model-{tag}"
    stubs.registry.CreateRegisteredModel(rpb.CreateRegisteredModelRequest(name=model))
    stubs.registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(name=model, source=f"runs:/{rid}/model", run_id=rid)
    )
    stubs.registry.SetRegisteredModelAlias(
        rpb.SetRegisteredModelAliasRequest(name=model, alias="champion", version=1)
    )
    logged = stubs.logged.CreateLoggedModel(
        lpb.CreateLoggedModelRequest(experiment_id=eid, name="lm", source_run_id=rid)
    ).model
    logged_id = logged.model_id
    root = root_uri.rstrip("/")
    run_dir = _below(run.info.artifact_uri, root)
    experiment_dir = _below(exp.experiment.artifact_location, root)
    logged_dir = _below(logged.artifact_location, root)
    upload(stubs, exp_scope, f"models/{logged_id}/artifacts/model.txt", b"harmless")
    return Seeded(eid, rid, model, logged_id, run_dir, experiment_dir, logged_dir)


def _below(uri: str, root: str) -> str:
    assert uri.startswith(root + "/"), (uri, root)
    return uri[len(root) + 1 :]


def local_path(uri: str) -> Path:
    return Path(unquote(urlsplit(uri).path))


@pytest.fixture(scope="module", params=BACKENDS)
def db_for_module(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(backend, SQLAlchemy URL) of a fresh database for one module's server."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("db")
        yield "sqlite", f"sqlite:///{folder / 'trackway.db'}"
        return
    url, name = _fresh_postgres_database()
    yield "postgresql", url
    _drop_postgres_database(name)


@dataclass
class Target:
    """A seeded server and the canary beside its artifact root."""

    server: RunningServer
    backend: str
    stubs: Stubs
    channel: grpc.Channel
    root: Path
    root_uri: str
    outside: Path
    secret: bytes
    seeded: Seeded

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.http_port}"

    def outside_state(self) -> dict[str, bytes]:
        """Every file in the canary folder, with its bytes."""
        return {
            str(p.relative_to(self.outside)): p.read_bytes()
            for p in sorted(self.outside.rglob("*"))
            if p.is_file()
        }

    def neighbours(self) -> list[str]:
        """What lies beside the artifact root: an escaped write would add to it."""
        return sorted(p.name for p in self.root.parent.iterdir())


def plant_links(root: Path, folder: str, outside: Path) -> None:
    """A link to the canary file and one to its folder, inside an artifact folder."""
    where = root / folder
    where.mkdir(parents=True, exist_ok=True)
    (where / "link.txt").symlink_to(outside / CANARY_NAME)
    (where / "escape").symlink_to(outside, target_is_directory=True)


@pytest.fixture(scope="module")
def attack_target(
    db_for_module: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    backend, url = db_for_module
    base = tmp_path_factory.mktemp("target")
    outside = base / "outside"
    outside.mkdir()
    secret = b"CANARY-" + secrets.token_hex(16).encode()
    (outside / CANARY_NAME).write_bytes(secret)
    root = base / "artifacts"
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=url,
            artifacts_destination=root.as_uri(),
            threads=16,
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    stubs = Stubs.on(channel)
    root_uri = running.artifacts.root_uri
    seeded = seed(stubs, root_uri)
    real_root = local_path(root_uri)
    for folder in (seeded.run_dir, seeded.experiment_dir, seeded.logged_dir):
        plant_links(real_root, folder, outside)
    yield Target(running, backend, stubs, channel, real_root, root_uri, outside, secret, seeded)
    channel.close()
    running.stop(grace=1.0)
