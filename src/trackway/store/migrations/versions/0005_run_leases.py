"""run leases: a run's lease length and expiry, for the sweeper of runs left behind

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without a default: existing runs are not rewritten, and they have
    # no lease, so the sweeper never touches them.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lease_expire_time", sa.BigInteger(), nullable=True))
        batch.create_index(batch.f("ix_runs_lease_expire_time"), ["lease_expire_time"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(batch.f("ix_runs_lease_expire_time"))
        batch.drop_column("lease_expire_time")
        batch.drop_column("lease_seconds")
