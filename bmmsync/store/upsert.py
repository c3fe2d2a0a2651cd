"""One bulk `INSERT ... ON CONFLICT DO UPDATE` for both dialects, in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bmmsync.store.models import Base

# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535. Rows of ~20 columns
# in batches of 1,000 stay well under both and keep memory flat.
BATCH_ROWS = 1000


def key_batches(idents: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(source, keys) with at most `BATCH_ROWS` keys each, for `source = ? AND key IN (...)`
    lookups by ticket that stay under every database's parameter limit."""
    by_source: dict[str, list[str]] = {}
    for source, key in idents:
        by_source.setdefault(source, []).append(key)
    for source, keys in by_source.items():
        for start in range(0, len(keys), BATCH_ROWS):
            yield source, keys[start : start + BATCH_ROWS]


def _batches(rows: Iterable[Mapping[str, Any]], size: int) -> Iterable[list[Mapping[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def bulk_upsert(
    session: Session,
    model: type[Base],
    rows: Iterable[Mapping[str, Any]],
    *,
    update: Sequence[str] | None = None,
) -> int:
    """Insert `rows`, updating the `update` columns (default: every non-key column) of rows
    whose primary key exists. Idempotent. Returns the number of rows sent.

    Every row must have the same keys (the first row decides the columns)."""
    table = cast(Table, model.__table__)
    keys = [col.name for col in table.primary_key.columns]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - other dialects are refused when the store opens
        raise NotImplementedError(dialect)
    total = 0
    stmt: Any = None
    for batch in _batches(rows, BATCH_ROWS):
        if stmt is None:  # one statement, reused: the driver's executemany does the rest
            base = insert(table)
            columns = update if update is not None else [c for c in batch[0] if c not in keys]
            stmt = (
                base.on_conflict_do_update(
                    index_elements=keys, set_={c: base.excluded[c] for c in columns}
                )
                if columns
                else base.on_conflict_do_nothing(index_elements=keys)
            )
        session.execute(stmt, list(batch))
        total += len(batch)
    return total
