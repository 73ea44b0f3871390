"""Shared fixtures: every store and service test runs on SQLite, PostgreSQL and MariaDB.

PostgreSQL comes from TRACKWAY_TEST_POSTGRES_URL and MariaDB (MySQL-compatible) from
TRACKWAY_TEST_MYSQL_URL, both set by `make test`, which starts throwaway servers. Without
one, its cases skip, except under CI=true, where a missing service is a failure. Each test
gets a fresh database of its own on the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.required import service_url
from trackway.config import ServerConfig
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc
from trackway.server.app import RunningServer, create_server
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.service import TrackingService

PG_ENV = "TRACKWAY_TEST_POSTGRES_URL"
MYSQL_ENV = "TRACKWAY_TEST_MYSQL_URL"
BACKENDS = ["sqlite", "postgresql", "mysql"]


def postgres_admin_url() -> str:
    return service_url(PG_ENV, "PostgreSQL")


def mysql_admin_url() -> str:
    return service_url(MYSQL_ENV, "MariaDB")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _fresh_postgres_database() -> tuple[str, str]:
    admin = postgres_admin_url()
    name = f"tw_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, name


def _drop_postgres_database(name: str) -> None:
    engine = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _fresh_mysql_database() -> tuple[str, str]:
    admin = mysql_admin_url()
    name = f"tw_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    engine.dispose()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, name


def _drop_mysql_database(name: str) -> None:
    engine = create_engine(mysql_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    engine.dispose()


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'trackway.db'}"
        return
    if backend == "mysql":
        url, name = _fresh_mysql_database()
        yield url
        _drop_mysql_database(name)
        return
    url, name = _fresh_postgres_database()
    yield url
    _drop_postgres_database(name)


@pytest.fixture
def artifact_root(tmp_path: Path) -> str:
    return (tmp_path / "artifacts").as_uri()


@pytest.fixture
def store(db_url: str, artifact_root: str) -> Iterator[SqlTrackingStore]:
    opened = SqlTrackingStore.open(db_url, artifact_root=artifact_root)
    yield opened
    opened.close()


@pytest.fixture
def service(store: SqlTrackingStore) -> TrackingService:
    return TrackingService(store)


@pytest.fixture
def server(db_url: str, artifact_root: str) -> Iterator[RunningServer]:
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            threads=32,
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> tracking_service_pb2_grpc.TrackingServiceStub:
    return tracking_service_pb2_grpc.TrackingServiceStub(channel)
