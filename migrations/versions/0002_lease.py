"""lease: fencing token and the holding process

Revision ID: 0002_lease
Revises: 0001
Create Date: 2026-12-07 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_lease"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("host", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("pid", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("process_start", sa.String(length=40), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("process_start")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
        batch_op.drop_column("token")
