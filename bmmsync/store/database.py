"""Opening the store: engines with the right pragmas, migrations, and the schema-version guard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bmmsync.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported where it is used: it costs half a second, and most commands start by
# opening a store that is already at head.

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def create_store_engine(url: str) -> Engine:
    """An engine for `url`: SQLite with WAL, a busy timeout and foreign keys; PostgreSQL via
    psycopg 3 (a bare `postgresql://` URL is read as `postgresql+psycopg://`)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store.url: not a database URL ({_masked(url)}): {exc}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"store.url: unsupported database {parsed.drivername!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    """Alembic configured in code: the scripts ship inside the wheel as `bmmsync.migrations`."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("bmmsync.migrations")))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have no head revision"
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine, *, auto_upgrade: bool | None = None) -> None:
    """Refuse a database this code cannot use, and migrate a new one.

    A new, empty database is upgraded automatically when it is SQLite (or when asked);
    one at an older revision must be upgraded with `bmmsync db upgrade`; one at a revision
    this code does not know is newer than the code, and is refused.
    """
    try:
        revision = current_revision(engine)
        empty = revision is None and not inspect(engine).get_table_names()
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the store at {_masked(str(engine.url))}: {exc.orig}"
        ) from None
    if auto_upgrade is None:
        auto_upgrade = engine.dialect.name == "sqlite"
    head = head_revision()
    if revision == head:
        return
    if empty and auto_upgrade:
        upgrade(engine)
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if revision is not None and revision not in known:
        raise StoreError(
            f"the database schema is at revision {revision}, newer than this bmmsync "
            f"(which knows up to {head}): upgrade bmmsync, or point store.url elsewhere"
        )
    raise StoreError(
        f"the database schema is at revision {revision or 'none'}, this bmmsync needs {head}: "
        "run `bmmsync db upgrade`"
    )


class Store:
    """An opened store: the engine plus a session factory. Use `session()` as a unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, auto_upgrade: bool | None = None) -> Store:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_store_engine(url)
        ensure_schema(engine, auto_upgrade=auto_upgrade)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
