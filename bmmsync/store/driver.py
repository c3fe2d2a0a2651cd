"""Reads as plain driver tuples, in the session's transaction, without SQLAlchemy's `Row` layer.

A full check reads a million tickets and ~1.3M stored verdict and link rows: through
`Connection.execute` about a quarter of the read's CPU goes into building and fetching `Row`
objects (profiled: 0.55 s of CPU per 100k tickets, 0.41 s through the driver).
On PostgreSQL a streamed read uses libpq's chunked rows mode (libpq >= 17, which
psycopg[binary] ships): the server sends the next rows while the client handles these, where
a server-side cursor's FETCH left each side waiting for the other (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

STREAM_ROWS = 20_000
"""Rows per chunk of a streamed read on PostgreSQL."""


def driver_rows(
    session: Session, query: str | Select[Any], *, stream: bool = False
) -> Iterator[tuple[Any, ...]]:
    """The rows of `query` as the driver returns them (no result processing: JSON, and on
    SQLite timestamps, come back as text). A `Select`'s bound values go to the driver as
    they are, so they must be plain text or numbers. `stream` reads in chunks on
    PostgreSQL, so a million rows never sit in memory at once (read to the end before the
    session's next statement); SQLite's cursor steps through its rows anyway."""
    connection = session.connection()
    dialect = connection.dialect
    params: Any = None  # none: psycopg leaves a plain string's text alone
    if isinstance(query, str):
        sql = query
    else:  # SQLAlchemy writes `%` as `%%` for psycopg, which reads it back given params
        compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        sql, params = str(compiled), compiled.params
        if compiled.positiontup is not None:
            params = tuple(params[name] for name in compiled.positiontup)
    raw: Any = connection.connection.driver_connection
    if dialect.name == "postgresql":
        with raw.cursor() as cursor:
            if stream:
                yield from cursor.stream(sql, params, size=_stream_size())
            else:
                cursor.execute(sql, params)
                yield from cursor.fetchall()
        return
    cursor = raw.cursor()
    try:
        yield from cursor.execute(sql, params or ())
    finally:
        cursor.close()


def _stream_size() -> int:
    """Rows per chunk: libpq older than 17 (a psycopg built on an old system libpq) streams
    one row per result instead, slower but the same rows."""
    from psycopg import capabilities  # here: a SQLite store never loads psycopg

    return STREAM_ROWS if capabilities.has_stream_chunked() else 1
