"""The registry below the wire: the service on the store (SQLite and PostgreSQL) raises
typed domain errors; the store retries writes that the database aborted for a deadlock;
the server registers the service with health and reflection."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from trackway.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from trackway.registry.entities import STAGE_ARCHIVED, STAGE_PRODUCTION, STAGE_STAGING
from trackway.registry.service import RegistryService
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.store.writes import MAX_ATTEMPTS as MAX_WRITE_ATTEMPTS
from trackway.tracking.service import TrackingService

REGISTRY = "trackway.registry.v1.ModelRegistryService"


@pytest.fixture
def registry(store: SqlTrackingStore) -> RegistryService:
    return RegistryService(SqlRegistryStore.from_tracking(store), store)


def test_service_round_trip_with_typed_errors(
    registry: RegistryService, service: TrackingService, artifact_root: str
) -> None:
    exp = service.create_experiment("e")
    run = service.create_run(exp.experiment_id)
    model = registry.create_registered_model("m", "about m", [("k", "v")])
    assert (model.name, model.description, model.tags) == ("m", "about m", {"k": "v"})
    with pytest.raises(AlreadyExists):
        registry.create_registered_model("m")
    with pytest.raises(InvalidArgument) as bad:
        registry.create_registered_model("a/b")
    assert [v.field for v in bad.value.violations] == ["name"]

    v1 = registry.create_model_version("m", f"runs:/{run.info.run_id}/model")
    assert (v1.version, v1.run_id) == (1, run.info.run_id)
    assert v1.storage_location == f"{run.info.artifact_uri}/model"
    v2 = registry.create_model_version("m", f"{artifact_root}/elsewhere")
    assert (v2.version, v2.run_id) == (2, "")
    with pytest.raises(NotFound):
        registry.create_model_version("nope", f"{artifact_root}/x")
    with pytest.raises(InvalidArgument):
        registry.create_model_version("m", "file:///etc")

    registry.transition_stage("m", 1, "production")
    registry.transition_stage("m", 2, "PRODUCTION", archive_existing_versions=True)
    assert registry.get_model_version("m", 1).current_stage == STAGE_ARCHIVED
    assert [v.version for v in registry.get_latest_versions("m", ["Production"])] == [2]
    with pytest.raises(InvalidArgument):
        registry.transition_stage("m", 1, "Deployed")

    version, previous = registry.set_alias("m", "champ", 2)
    assert (version.version, version.aliases, previous) == (2, ["champ"], 0)
    assert registry.resolve("models:/m@champ").model_version == version
    assert registry.resolve("models:/m/Production").artifact_uri == f"{artifact_root}/elsewhere"

    current = registry.get_model_version("m", 2).last_updated_timestamp
    registry.update_model_version("m", 2, "new", expected_last_updated_timestamp=current)
    with pytest.raises(Aborted):
        registry.update_model_version("m", 2, "lost", expected_last_updated_timestamp=current)

    service.delete_run(run.info.run_id)
    with pytest.raises(FailedPrecondition):
        registry.create_model_version("m", f"{artifact_root}/x", run_id=run.info.run_id)
    page = registry.search_model_versions("current_stage = 'Production'")
    assert [(v.name, v.version) for v in page.items] == [("m", 2)]


def test_timestamps_strictly_increase_within_one_millisecond(registry: RegistryService) -> None:
    """Several changes in one millisecond still move last_updated_timestamp each time,
    which is what makes it usable as an update precondition."""
    model = registry.create_registered_model("m")
    stamps = [model.last_updated_timestamp]
    for i in range(20):
        stamps.append(registry.update_registered_model("m", f"d{i}").last_updated_timestamp)
    assert all(later > earlier for earlier, later in itertools.pairwise(stamps))


class _DeadlockOnce(Exception):
    sqlstate = "40P01"


class _FlakyWriter:
    """Fails the first `failures` jobs as PostgreSQL does a deadlock victim, then runs
    them on the real writer."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real = real
        self.failures = failures
        self.calls = 0

    def run(self, job: Callable[[Connection], Any]) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("UPDATE registered_models ...", {}, _DeadlockOnce())
        return self.real.run(job)


def test_writes_aborted_for_a_deadlock_run_again(store: SqlTrackingStore) -> None:
    flaky = _FlakyWriter(store.writer, failures=2)
    registry = SqlRegistryStore(store.engine, flaky, store.artifact_root)  # type: ignore[arg-type]
    model = registry.create_registered_model("m", "", [])
    assert model.name == "m" and flaky.calls == 3

    hopeless = _FlakyWriter(store.writer, failures=MAX_WRITE_ATTEMPTS)
    registry = SqlRegistryStore(store.engine, hopeless, store.artifact_root)  # type: ignore[arg-type]
    with pytest.raises(OperationalError):
        registry.create_registered_model("n", "", [])
    assert hopeless.calls == MAX_WRITE_ATTEMPTS


def test_registry_service_is_served_with_health_and_reflection(channel: grpc.Channel) -> None:
    assert REGISTRY in set(ProtoReflectionDescriptorDatabase(channel).get_services())
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service=REGISTRY))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_stage_names_are_canonical(registry: RegistryService, artifact_root: str) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", f"{artifact_root}/x")
    assert registry.transition_stage("m", 1, "sTaGiNg").current_stage == STAGE_STAGING
    with pytest.raises(InvalidArgument) as bad:
        registry.transition_stage("m", 1, "Archived", archive_existing_versions=True)
    assert [v.field for v in bad.value.violations] == ["archive_existing_versions"]
    assert registry.transition_stage("m", 1, STAGE_PRODUCTION).current_stage == STAGE_PRODUCTION
