"""Alembic environment: runs on the engine bmmsync hands over (see bmmsync.store.database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bmmsync.store.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTC type as its plain column type: migrations must not import app code."""
    if type_ == "type" and type(obj).__name__ == "Stamp":
        return "sa.DateTime(timezone=True)"
    return False


TEXT_INDEX_OBJECTS = ("tickets_text", "ix_tickets_title_trgm", "ix_tickets_key_trgm")
"""Migration 0009's text index for `/review?q=`: an FTS5 table (and its shadow tables) on
SQLite, GIN indexes on PostgreSQL. Dialect-specific, so not in the models."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave the text index out of the models-vs-database comparison (`alembic check`)."""
    return not (name and name.startswith(TEXT_INDEX_OBJECTS))


def run_migrations_online() -> None:
    engine: Engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("bmmsync migrations run online only: use `bmmsync db upgrade`")
run_migrations_online()
