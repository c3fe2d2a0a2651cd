"""dashboard aggregates, and trace links by capability

Revision ID: 0005_dashboard
Revises: 0002_lease
Create Date: 2026-12-07 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_dashboard'
down_revision: str | None = '0002_lease'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'dashboard_aggregates',
        sa.Column('scope', sa.String(length=400), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_dashboard_aggregates')),
    )
    with op.batch_alter_table('trace_links', schema=None) as batch_op:
        batch_op.create_index('ix_trace_links_capability', ['capability'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trace_links', schema=None) as batch_op:
        batch_op.drop_index('ix_trace_links_capability')
    op.drop_table('dashboard_aggregates')
