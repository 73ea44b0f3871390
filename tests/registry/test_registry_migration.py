"""Migration 0002 creates the registry tables and its downgrade removes exactly them."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from trackway.store import engine, migrate

REGISTRY_TABLES = {
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
}


def test_registry_migration_downgrades_and_upgrades_again(db_url: str) -> None:
    eng = engine.create(db_url)
    migrate.upgrade(eng)
    assert set(inspect(eng).get_table_names()) >= REGISTRY_TABLES
    with eng.begin() as conn:
        command.downgrade(migrate._config(conn), "0001")
    left = set(inspect(eng).get_table_names())
    assert not REGISTRY_TABLES & left
    assert {"experiments", "runs"} <= left
    migrate.upgrade(eng)
    assert migrate.current_revision(eng) == migrate.head_revision()
    assert set(inspect(eng).get_table_names()) >= REGISTRY_TABLES
    eng.dispose()
