"""compact verdicts: rows only for exceptions, each problem text once in `problems`

Verdicts are derived data that every full check rewrites, so the table is recreated empty
rather than converted: the next `bmmsync check` (or service run, which starts with a full
check) fills it again.

Revision ID: 0007_compact_verdicts
Revises: 0004_webhooks
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_compact_verdicts"
down_revision: str | None = "0004_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _verdicts(*columns: sa.Column[object]) -> None:
    op.create_table(
        "verdicts",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("in_scope", sa.Boolean(), nullable=False),
        sa.Column("scope_reason", sa.String(length=50), nullable=True),
        sa.Column("traced", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=True),
        *columns,
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name=op.f("pk_verdicts")),
    )
    op.create_index("ix_verdicts_reason", "verdicts", ["reason"], unique=False)


def upgrade() -> None:
    op.drop_index("ix_verdicts_reason", table_name="verdicts")
    op.drop_table("verdicts")
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problems")),
        sa.UniqueConstraint("digest", name=op.f("uq_problems_digest")),
    )
    _verdicts(sa.Column("problem_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_verdicts_reason", table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_table("problems")
    _verdicts(
        sa.Column("severity", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
    )
