"""Migrations: the migrated schema equals the declared one, and parallel starts are safe."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from trackway.store import engine, migrate
from trackway.store.schema import metadata


def test_migrations_create_exactly_the_declared_schema(db_url: str) -> None:
    eng = engine.create(db_url)
    migrate.upgrade(eng)
    with eng.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), metadata)
    eng.dispose()
    assert drift == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    eng = engine.create(db_url)
    migrate.upgrade(eng)
    migrate.upgrade(eng)
    assert migrate.current_revision(eng) == migrate.head_revision()
    eng.dispose()


def test_parallel_upgrades_from_several_processes(db_url: str) -> None:
    def upgrade() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trackway.cli", "db", "upgrade", "--backend-store-uri", db_url],
            capture_output=True,
            text=True,
            timeout=120,
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: upgrade(), range(4)))
    for done in results:
        assert done.returncode == 0, done.stderr
        assert migrate.head_revision() in done.stdout
