"""tickets.closed_at: when a ticket was last closed (for velocity and effort by period)

Revision ID: 0003_closed_at
Revises: 0002_lease
Create Date: 2026-12-07 02:45:00

Existing rows stay NULL until the next `bmmsync sync --full` re-reads every ticket.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_closed_at"
down_revision: str | None = "0002_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
