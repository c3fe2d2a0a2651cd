"""`bmmsync db`: schema migrations."""

from __future__ import annotations

import typer

from bmmsync.cli.context import app_context
from bmmsync.store.database import create_store_engine, current_revision, head_revision, upgrade

db_app = typer.Typer(help="Database schema: upgrade and inspect.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the store to the schema this bmmsync needs (safe to run again)."""
    config = app_context(ctx).config()
    engine = create_store_engine(config.store.url.get_secret_value())
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"store already at revision {after}")
    else:
        print(f"store upgraded from {before or 'empty'} to {after}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the store's schema revision and the one this bmmsync needs."""
    config = app_context(ctx).config()
    engine = create_store_engine(config.store.url.get_secret_value())
    try:
        print(f"store: {current_revision(engine) or 'empty'}; bmmsync needs: {head_revision()}")
    finally:
        engine.dispose()
