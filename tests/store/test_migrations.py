"""Migrations: upgrade, no drift between models and migrations, downgrade, version guard."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bmmsync.errors import StoreError
from bmmsync.store.database import (
    Store,
    alembic_config,
    create_store_engine,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)


def test_upgrade_check_downgrade(empty_db_url: str) -> None:
    engine = create_store_engine(empty_db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "tickets" in inspect(engine).get_table_names()
    command.check(alembic_config(engine))  # raises if models and migrations differ
    downgrade(engine, "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()


def test_new_sqlite_file_is_upgraded_on_first_use(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'sub' / 'new.db'}")
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    store.close()


def test_empty_postgresql_needs_db_upgrade(empty_db_url: str) -> None:
    if empty_db_url.startswith("sqlite"):
        pytest.skip("SQLite is upgraded automatically")
    with pytest.raises(StoreError, match="run `bmmsync db upgrade`"):
        Store.open(empty_db_url)


def test_schema_newer_than_code_is_refused(db_url: str) -> None:
    engine = create_store_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this bmmsync"):
        Store.open(db_url)


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store at postgresql") as caught:
        Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value)


def test_wrong_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"store\.url"):
        Store.open("notadatabase://x")
