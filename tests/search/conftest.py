"""Database fixtures for the search tests: SQLite always, PostgreSQL and MariaDB when
configured (TRACKWAY_TEST_MYSQL_URL, as for PostgreSQL below).

Set TRACKWAY_TEST_POSTGRES_URL to a SQLAlchemy URL of a server where the user may create
databases (e.g. `postgresql+psycopg://postgres@127.0.0.1:54329/postgres`); each test
module then gets a fresh database, dropped afterwards. Without it the PostgreSQL cases
are skipped, except under CI=true, where a silent skip would hide a broken setup.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _drop_mysql_database, _fresh_mysql_database
from tests.support.required import service_url
from trackway.store import engine as store_engine
from trackway.store import migrate
from trackway.store.schema import metadata

POSTGRES_URL_ENV = "TRACKWAY_TEST_POSTGRES_URL"


def _sqlite(directory: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{directory / 'search.db'}")
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _postgres(url: str) -> Iterator[sa.Engine]:
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"trackway_search_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


def _mysql() -> Iterator[sa.Engine]:
    url, name = _fresh_mysql_database()
    # The store's own engine and migrations: they set the binary collation and strict
    # mode that keep MySQL's comparisons the same as the other backends'.
    engine = store_engine.create(url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        _drop_mysql_database(name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def search_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    """An empty database with the Trackway schema, private to the test module."""
    if request.param == "sqlite":
        yield from _sqlite(tmp_path_factory.mktemp("search"))
        return
    if request.param == "mysql":
        yield from _mysql()
        return
    yield from _postgres(service_url(POSTGRES_URL_ENV, "PostgreSQL"))
