"""The SQL schema of the model registry, on the tracking store's `metadata`.

`trackway.store.schema` imports this module at its end, so everyone who sees the schema
(Alembic, `create_all`, the drift test) sees these tables too; migration 0002 creates
them.

A registered model has a surrogate integer id: a rename changes one row, and versions,
tags and aliases follow without ON UPDATE cascades. `latest_version` is the version
counter: CreateModelVersion increments it with one `UPDATE ... RETURNING` in the
transaction that inserts the version, so the row lock serialises concurrent creators,
on SQLite and across PostgreSQL replicas alike, and a number is never handed out twice,
not even after its version is deleted.

A version's `run_id` has no foreign key: lineage is a reference into tracking, which a
purge may remove, and a registry row must never block or be cascaded by that.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
)

from trackway.store.schema import BigId, metadata

STAGES = ("None", "Staging", "Production", "Archived")
STATUSES = ("PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY")

registered_models = Table(
    "registered_models",
    metadata,
    Column("model_id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("latest_version", BigInteger, nullable=False),
    # Ids are never reused: request-id replays name models by id.
    sqlite_autoincrement=True,
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "model_id",
        BigId,
        ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "model_id",
        BigId,
        ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", BigInteger, primary_key=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    # As the client gave it: an artifact URI, or a runs:/ or models:/ URI.
    Column("source", String(1000), nullable=False),
    # Where the bytes are: `source` resolved at creation, below the artifact root.
    Column("storage_location", String(2048), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", String(500), nullable=False),
    Column("current_stage", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_message", String(500), nullable=False),
    CheckConstraint(
        "current_stage IN ('None', 'Staging', 'Production', 'Archived')", name="current_stage"
    ),
    CheckConstraint(
        "status IN ('PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY')", name="status"
    ),
    Index(None, "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_id", BigId, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# An alias names one version of its model; deleting the version deletes the alias.
registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("model_id", BigId, primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("version", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["model_id", "version"],
        ["model_versions.model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

__all__ = [
    "STAGES",
    "STATUSES",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
]
