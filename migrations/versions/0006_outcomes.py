"""measurements: key-result values recorded by `bmmsync model measure`

Revision ID: 0006_outcomes
Revises: 0005_dashboard
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outcomes"
down_revision: str | None = "0005_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "measurements",
        sa.Column("motivator", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=300), nullable=False),
        sa.Column("at", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("motivator", "metric", "at", name=op.f("pk_measurements")),
    )


def downgrade() -> None:
    op.drop_table("measurements")
