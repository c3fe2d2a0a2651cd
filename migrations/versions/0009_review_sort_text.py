"""/review at a million tickets: its sort keys on the verdict row, and a text index

`/review` sorted by title, project or flagged-since sorted every broken row (~366k at 1M
tickets) joined to tickets and flags, per request. The verdict row now carries those keys
(`sort_title`: the title's first 200 characters, which also keeps a B-tree entry small;
`project`; `flagged_since`: the start of the ticket's active flag), each with an index in
the page's order, so a sorted page walks an index and stops after one page.

`/review?q=` scanned every broken row for the text. SQLite: an FTS5 trigram index over the
tickets' title and key (external content, kept in step by triggers, so every write path
keeps it); PostgreSQL: `pg_trgm` GIN indexes on `lower(title)` and `lower(key)`, the very
expressions the filter compares. If `pg_trgm` cannot be created (not installed, or not
allowed), the indexes are left out with a warning and the filter scans as before.

The new columns are filled from the stored tickets and flags here; each check and each
flag write keeps them. The extension is left in place on downgrade: it is the database's.

Revision ID: 0009_review_sort_text
Revises: 0008_page_indexes
Create Date: 2026-12-07 16:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_review_sort_text"
down_revision: str | None = "0008_page_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_INDEXES = {
    "ix_verdicts_review_title": ["in_scope", "traced", "sort_title", "source", "key"],
    "ix_verdicts_review_project": ["in_scope", "traced", "source", "project", "key"],
    "ix_verdicts_review_flagged": ["in_scope", "traced", "flagged_since", "source", "key"],
}

SQLITE_TEXT = (
    "CREATE VIRTUAL TABLE tickets_text USING fts5("
    "title, key, content='tickets', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER tickets_text_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO tickets_text (rowid, title, key) VALUES (new.rowid, new.title, new.key); END",
    "CREATE TRIGGER tickets_text_delete AFTER DELETE ON tickets BEGIN "
    "INSERT INTO tickets_text (tickets_text, rowid, title, key) "
    "VALUES ('delete', old.rowid, old.title, old.key); END",
    "CREATE TRIGGER tickets_text_update AFTER UPDATE OF title, key ON tickets "
    "WHEN old.title IS NOT new.title OR old.key IS NOT new.key BEGIN "
    "INSERT INTO tickets_text (tickets_text, rowid, title, key) "
    "VALUES ('delete', old.rowid, old.title, old.key); "
    "INSERT INTO tickets_text (rowid, title, key) VALUES (new.rowid, new.title, new.key); END",
    "INSERT INTO tickets_text (tickets_text) VALUES ('rebuild')",
)

POSTGRESQL_TEXT = (
    "CREATE INDEX ix_tickets_title_trgm ON tickets USING gin (lower(title) gin_trgm_ops)",
    "CREATE INDEX ix_tickets_key_trgm ON tickets USING gin (lower(key) gin_trgm_ops)",
)


def _pg_trgm(bind: sa.Connection) -> bool:
    """Create `pg_trgm` if it is not there; False (and a warning) if that is refused."""
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        logging.getLogger("alembic").warning(
            "pg_trgm cannot be created (%s): /review?q= will scan the broken rows",
            str(error.orig).strip(),
        )
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    op.add_column("verdicts", sa.Column("sort_title", sa.String(length=200), nullable=True))
    op.add_column("verdicts", sa.Column("project", sa.String(length=200), nullable=True))
    op.add_column(
        "verdicts", sa.Column("flagged_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE verdicts SET sort_title = substr(t.title, 1, 200), project = t.project "
        "FROM tickets AS t WHERE t.source = verdicts.source AND t.key = verdicts.key"
    )
    op.execute(
        "UPDATE verdicts SET flagged_since = f.flagged_at FROM flags AS f "
        "WHERE f.source = verdicts.source AND f.key = verdicts.key "
        "AND f.flagged_at IS NOT NULL AND f.cleared_at IS NULL"
    )
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "verdicts", columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_TEXT:
            op.execute(statement)
    elif _pg_trgm(bind):
        for statement in POSTGRESQL_TEXT:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("tickets_text_insert", "tickets_text_delete", "tickets_text_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS tickets_text")
    else:
        op.execute("DROP INDEX IF EXISTS ix_tickets_key_trgm")
        op.execute("DROP INDEX IF EXISTS ix_tickets_title_trgm")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="verdicts")
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("flagged_since")
        batch.drop_column("project")
        batch.drop_column("sort_title")
