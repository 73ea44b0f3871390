"""metric worker: an optional label of the distributed worker that logged each point

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: existing rows are not rewritten on either
    # backend, so the upgrade is quick even on a large metrics table.
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(sa.Column("worker", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.drop_column("worker")
