"""Fixtures for the logged-model tests: the service over the store (SQLite and
PostgreSQL, through the `backend` fixture of tests/conftest.py), gRPC stubs on the
per-test server, and small builders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from trackway.gen.tracking.v1.logged_model_service_pb2_grpc import LoggedModelServiceStub
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.store.logged_model_store import SqlLoggedModelStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.logged_model_entities import LoggedModel, ModelMetric
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService


@dataclass
class Services:
    """The tracking and logged-model services of one store."""

    tracking: TrackingService
    models: LoggedModelService
    root: str


@pytest.fixture
def services(store: SqlTrackingStore) -> Services:
    return Services(
        TrackingService(store),
        LoggedModelService(SqlLoggedModelStore.from_tracking(store)),
        store.artifact_root,
    )


@pytest.fixture
def models_stub(channel: grpc.Channel) -> LoggedModelServiceStub:
    return LoggedModelServiceStub(channel)


@pytest.fixture
def tracking_stub(channel: grpc.Channel) -> TrackingServiceStub:
    return TrackingServiceStub(channel)


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def experiment(s: Services) -> str:
    return s.tracking.create_experiment(unique()).experiment_id


def run_in(s: Services, experiment_id: str) -> str:
    return s.tracking.create_run(experiment_id).info.run_id


def model(s: Services, experiment_id: str, name: str = "model", **kw: Any) -> LoggedModel:
    return s.models.create_logged_model(experiment_id, name, **kw)


def point(key: str, value: float, step: int = 0, timestamp: int = 1000, **kw: str) -> ModelMetric:
    return ModelMetric(key, value, timestamp, step, **kw)


def names(items: Sequence[LoggedModel]) -> list[str]:
    return [m.name for m in items]
