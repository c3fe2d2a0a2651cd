"""a capability's work in page order: `ix_trace_links_capability` on (capability, source, key)

`/capabilities/{id}` lists the tickets linked to a capability ordered by (source, key). With
the index on `capability` alone, PostgreSQL walked the primary key (source, key, capability)
in that order and filtered on the capability, which read most of the 1M-ticket index for a
capability whose links sort late; SQLite sorted them. With the order's columns in the index,
a page is a range of it (1M tickets, 20 capabilities asked 3 times each: PostgreSQL's slowest
200 -> 109 ms, SQLite's 164 -> 79 ms after the first, cold request).

Revision ID: 0010_capability_work_order
Revises: 0009_review_sort_text
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_capability_work_order"
down_revision: str | None = "0009_review_sort_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_trace_links_capability", table_name="trace_links")
    op.create_index(
        "ix_trace_links_capability", "trace_links", ["capability", "source", "key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_trace_links_capability", table_name="trace_links")
    op.create_index("ix_trace_links_capability", "trace_links", ["capability"], unique=False)
