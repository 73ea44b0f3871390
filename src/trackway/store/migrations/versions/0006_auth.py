"""auth: users with roles, hashed API tokens, permissions on experiments and models

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.user_id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _permission_check(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        "permission IN ('READ', 'EDIT', 'MANAGE')", name=op.f(f"ck_{table}_permission")
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'user')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=250), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("expire_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked_time", sa.BigInteger(), nullable=True),
        _user_fk("api_tokens"),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_api_tokens_user_id_creation_time"), "api_tokens", ["user_id", "creation_time"]
    )
    op.create_table(
        "experiment_permissions",
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("permission", sa.String(length=10), nullable=False),
        _permission_check("experiment_permissions"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name=op.f("fk_experiment_permissions_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        _user_fk("experiment_permissions"),
        sa.PrimaryKeyConstraint("experiment_id", "user_id", name=op.f("pk_experiment_permissions")),
    )
    op.create_index(
        op.f("ix_experiment_permissions_user_id"), "experiment_permissions", ["user_id"]
    )
    op.create_table(
        "registered_model_permissions",
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("permission", sa.String(length=10), nullable=False),
        _permission_check("registered_model_permissions"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_registered_model_permissions_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        _user_fk("registered_model_permissions"),
        sa.PrimaryKeyConstraint(
            "model_id", "user_id", name=op.f("pk_registered_model_permissions")
        ),
    )
    op.create_index(
        op.f("ix_registered_model_permissions_user_id"),
        "registered_model_permissions",
        ["user_id"],
    )


def downgrade() -> None:
    op.drop_table("registered_model_permissions")
    op.drop_table("experiment_permissions")
    op.drop_table("api_tokens")
    op.drop_table("users")
