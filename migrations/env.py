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


def run_migrations_online() -> None:
    engine: Engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("bmmsync migrations run online only: use `bmmsync db upgrade`")
run_migrations_online()
