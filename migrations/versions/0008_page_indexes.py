"""indexes for the dashboard's pages at a million tickets

`ix_tickets_key`: `explain` finds a key in any source, and its did-you-mean reads the keys
next to an unknown one, without a scan of every ticket. `ix_verdicts_review`: `/review`
walks the broken rows (in scope, not traced) in its default order (reason, source, key) and
stops after one page, where it sorted every broken row per request.

Revision ID: 0008_page_indexes
Revises: 0007_compact_verdicts
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_page_indexes"
down_revision: str | None = "0007_compact_verdicts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_key", "tickets", ["key"], unique=False)
    op.create_index(
        "ix_verdicts_review",
        "verdicts",
        ["in_scope", "traced", "reason", "source", "key"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_verdicts_review", table_name="verdicts")
    op.drop_index("ix_tickets_key", table_name="tickets")
