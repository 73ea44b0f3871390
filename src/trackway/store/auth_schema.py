"""The SQL schema of authentication and permissions, on the tracking store's `metadata`.

`trackway.store.schema` imports this module at its end, like the registry's tables, so
Alembic, `create_all` and the drift test see these tables too; migration 0006 creates
them.

- `users`: a name and a role. Users are referenced by a surrogate id, so tokens and
  permissions go away with the user (ON DELETE CASCADE).
- `api_tokens`: only the SHA-256 of a token's secret is stored, never the secret. The
  secret has 256 random bits, so an unsalted fast hash is enough: nothing short of the
  secret itself hashes to a stored value.
- `experiment_permissions`, `registered_model_permissions`: one level (READ, EDIT,
  MANAGE) per user and resource. They reference the resource's id, so a renamed model
  keeps its permissions, and a purged experiment or deleted model takes its own along;
  a new resource that reuses a name never inherits them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table

from trackway.store.schema import BigId, metadata

ROLES = ("admin", "user")
PERMISSIONS = ("READ", "EDIT", "MANAGE")

users = Table(
    "users",
    metadata,
    Column("user_id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    CheckConstraint("role IN ('admin', 'user')", name="role"),
    # Ids are never reused: a deleted user's id must not come back to life.
    sqlite_autoincrement=True,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    # `tok_` and 16 hex digits: the public name of the token, not its secret.
    Column("token_id", String(20), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    # Lowercase hex SHA-256 of the secret; the lookup of every authenticated call.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("description", String(250), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    # NULL: never expires / not revoked.
    Column("expire_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    Index(None, "user_id", "creation_time"),
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", BigId, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    Column("permission", String(10), nullable=False),
    CheckConstraint("permission IN ('READ', 'EDIT', 'MANAGE')", name="permission"),
    # A search's visibility filter reads every grant of one user.
    Index(None, "user_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    Column(
        "model_id",
        BigId,
        ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", BigId, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    Column("permission", String(10), nullable=False),
    CheckConstraint("permission IN ('READ', 'EDIT', 'MANAGE')", name="permission"),
    Index(None, "user_id"),
)
