"""Tickets and sync cursors in the store, written in bulk and read in streams."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select, tuple_, type_coerce, update
from sqlalchemy.orm import Session

from bmmsync.domain import Ticket, positional_factory
from bmmsync.store.driver import driver_rows
from bmmsync.store.models import SyncCursorRow, TicketRow
from bmmsync.store.upsert import BATCH_ROWS, bulk_upsert


@dataclass
class UpsertCounts:
    """How many stored tickets were new, changed or unchanged, and which were new or changed
    (what an incremental check judges again)."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    touched: list[tuple[str, str]] = field(default_factory=list)


def storable(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL, so a NUL in tracker text would fail its whole page:
    it is stored as U+FFFD (the replacement character) on both databases."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def ticket_row(ticket: Ticket, synced_at: datetime) -> dict[str, Any]:
    return {
        "source": ticket.source,
        "key": storable(ticket.key),
        "url": storable(ticket.url),
        "title": storable(ticket.title),
        "type": storable(ticket.type),
        "state": storable(ticket.state),
        "closed": ticket.closed,
        "labels": storable(list(ticket.labels)),
        "fields": storable(ticket.fields),
        "parent_key": storable(ticket.parent_key),
        "assignee": storable(ticket.assignee),
        "project": storable(ticket.project),
        "story_points": ticket.story_points,
        "created": ticket.created,
        "updated": ticket.updated,
        "is_pull_request": ticket.is_pull_request,
        "closed_at": ticket.closed_at,
        "synced_at": synced_at,
        "gone_at": None,
    }


_COMPARED = (
    "title",
    "type",
    "state",
    "closed",
    "labels",
    "fields",
    "parent_key",
    "assignee",
    "project",
    "story_points",
    "updated",
    "url",
    "gone_at",
    "closed_at",
)


def upsert_tickets(session: Session, tickets: Sequence[Ticket], now: datetime) -> UpsertCounts:
    """Store `tickets` (one batch, e.g. one page). One SELECT and one upsert per 1,000 rows."""
    counts = UpsertCounts()
    for start in range(0, len(tickets), BATCH_ROWS):
        rows = [ticket_row(t, now) for t in tickets[start : start + BATCH_ROWS]]
        batch = {(row["source"], row["key"]): row for row in rows}
        cols = [getattr(TicketRow, c) for c in _COMPARED]
        existing = {
            (r.source, r.key): r
            for r in session.execute(
                select(TicketRow.source, TicketRow.key, *cols).where(
                    tuple_(TicketRow.source, TicketRow.key).in_(list(batch))
                )
            )
        }
        for ident, row in batch.items():
            old = existing.get(ident)
            if old is None:
                counts.new += 1
            elif any(getattr(old, c) != row[c] for c in _COMPARED):
                counts.changed += 1
            else:
                counts.unchanged += 1
                continue
            counts.touched.append(ident)
        bulk_upsert(session, TicketRow, batch.values())
    return counts


def to_ticket(row: TicketRow) -> Ticket:
    return Ticket(
        source=row.source,
        key=row.key,
        title=row.title,
        url=row.url,
        type=row.type,
        state=row.state,
        labels=tuple(row.labels),
        fields=dict(row.fields),
        parent_key=row.parent_key,
        assignee=row.assignee,
        project=row.project,
        story_points=row.story_points,
        created=row.created,
        updated=row.updated,
        closed=row.closed,
        is_pull_request=row.is_pull_request,
        closed_at=row.closed_at,
    )


# Read order of `_TicketReader`. JSON and (on SQLite) timestamps are selected as text and
# decoded here: a backlog shares a few thousand label sets, so decoding each distinct text
# once (and sharing the result) saves most of the time and memory of a million-row read.
_READ_COLUMNS = (
    "source",
    "key",
    "title",
    "url",
    "type",
    "state",
    "labels",
    "fields",
    "parent_key",
    "assignee",
    "project",
    "story_points",
    "created",
    "updated",
    "closed",
    "is_pull_request",
    "closed_at",
)
_TEXT_READ = frozenset({"labels", "fields"})
_STAMPS = frozenset({"created", "updated", "closed_at"})
_PG_STAMP = "YYYY-MM-DD HH24:MI:SS.US"


_new_ticket = positional_factory(Ticket)
assert [f.name for f in dataclass_fields(Ticket)] == list(_READ_COLUMNS), "read order != Ticket"


class _TicketReader:
    """Builds `Ticket`s from driver row tuples. One per read: its caches live as long as it.

    Decoded labels and fields are shared between tickets with the same stored text, so
    callers must treat `Ticket.fields` as read-only (the trace engine does).
    """

    def __init__(self, session: Session) -> None:
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        table = TicketRow.__table__
        columns: list[Any] = []
        for name in _READ_COLUMNS:
            column = table.c[name]
            if name in _TEXT_READ or (self.sqlite and name in _STAMPS):
                columns.append(type_coerce(cast(column, Text), Text).label(name))
            elif name in _STAMPS:
                # UTC text whatever the session's TimeZone and DateStyle: a string hashes
                # and decodes for a fraction of psycopg's aware datetime (-1 s of CPU per
                # million tickets), and equal stamps are decoded once (`_decode_stamp`)
                utc = func.to_char(func.timezone("UTC", column), _PG_STAMP)
                columns.append(type_coerce(utc, Text).label(name))
            else:
                columns.append(column)
        self.columns = columns
        self._labels: dict[str, tuple[str, ...]] = {}
        self._fields: dict[str, dict[str, Any]] = {}
        self._stamps: dict[Any, datetime] = {}

    def _decode_labels(self, text: str | None) -> tuple[str, ...]:
        found = self._labels.get(text) if text is not None else ()
        if found is None:
            value = json.loads(text)  # type: ignore[arg-type]
            found = tuple(value) if isinstance(value, list) else ()
            self._labels[text] = found  # type: ignore[index]
        return found

    def _decode_fields(self, text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        found = self._fields.get(text)
        if found is None:
            value = json.loads(text)
            found = value if isinstance(value, dict) else {}
            if len(text) <= 200:  # only small texts repeat often enough to share
                self._fields[text] = found
        return found

    def _decode_stamp(self, value: str | None) -> datetime | None:
        """The stored UTC text decoded; equal instants share one object (up to 100k of
        them): tickets synced together often carry the same stamps, and each object costs
        48 bytes per ticket and column."""
        if value is None:
            return None
        found = self._stamps.get(value)
        if found is None:
            found = datetime.fromisoformat(value).replace(tzinfo=UTC)
            if len(self._stamps) < 100_000:
                self._stamps[value] = found
        return found

    def tickets(self, rows: Iterable[Sequence[Any]]) -> Iterator[Ticket]:
        intern = sys.intern
        new_ticket = _new_ticket
        labels_of = self._decode_labels
        fields_of = self._decode_fields
        stamp = self._decode_stamp
        for (
            source,
            key,
            title,
            url,
            type_,
            state,
            labels,
            fields,
            parent_key,
            assignee,
            project,
            story_points,
            created,
            updated,
            closed,
            is_pull_request,
            closed_at,
        ) in rows:
            yield new_ticket(
                intern(source),
                key,
                title,
                url,
                intern(type_),
                intern(state),
                labels_of(labels),
                fields_of(fields),
                parent_key,
                assignee,
                intern(project),
                story_points,
                stamp(created),
                stamp(updated),
                bool(closed),
                bool(is_pull_request),
                stamp(closed_at),
            )


def _read(session: Session, where: Sequence[Any], *, stream: bool) -> Iterator[Ticket]:
    reader = _TicketReader(session)
    query = select(*reader.columns).where(*where)
    # Driver tuples: the reader converts every column itself, so SQLAlchemy's rows would
    # only add their cost (see `driver_rows`).
    yield from reader.tickets(driver_rows(session, query, stream=stream))


def iter_tickets(
    session: Session, *, source: str | None = None, include_gone: bool = False
) -> Iterator[Ticket]:
    """Every stored ticket, streamed as driver row tuples (no ORM objects: a million rows read
    in seconds, and memory holds only the tickets the caller keeps). Read it to the end
    before the session's next statement: on PostgreSQL the stream holds the connection."""
    where: list[Any] = []
    if source is not None:
        where.append(TicketRow.source == source)
    if not include_gone:
        where.append(TicketRow.gone_at.is_(None))
    return _read(session, where, stream=True)


def get_tickets(session: Session, keys: Iterable[str]) -> list[Ticket]:
    wanted = list(keys)
    return [
        t
        for start in range(0, len(wanted), BATCH_ROWS)
        for t in _read(
            session, [TicketRow.key.in_(wanted[start : start + BATCH_ROWS])], stream=False
        )
    ]


def tickets_by_id(
    session: Session, idents: Iterable[tuple[str, str]], *, include_gone: bool = False
) -> list[Ticket]:
    """The stored tickets with these (source, key) pairs, in batches; missing ones are left out."""
    by_source: dict[str, list[str]] = {}
    for source, key in idents:
        by_source.setdefault(source, []).append(key)
    found: list[Ticket] = []
    for source, keys in by_source.items():
        for start in range(0, len(keys), BATCH_ROWS):
            where = [
                TicketRow.source == source,
                TicketRow.key.in_(keys[start : start + BATCH_ROWS]),
            ]
            if not include_gone:
                where.append(TicketRow.gone_at.is_(None))
            found.extend(_read(session, where, stream=False))
    return found


def children_of(session: Session, source: str, parent_keys: Sequence[str]) -> list[Ticket]:
    """Stored tickets (not gone) whose parent is one of `parent_keys`; uses ix_tickets_parent."""
    found: list[Ticket] = []
    for start in range(0, len(parent_keys), BATCH_ROWS):
        where = [
            TicketRow.source == source,
            TicketRow.parent_key.in_(parent_keys[start : start + BATCH_ROWS]),
            TicketRow.gone_at.is_(None),
        ]
        found.extend(_read(session, where, stream=False))
    return found


def mark_gone(session: Session, source: str, keys: Iterable[str], now: datetime) -> int:
    """Mark tickets the tracker no longer shows (deleted, moved, out of scope): no ghosts."""
    gone = list(keys)
    total = 0
    for start in range(0, len(gone), BATCH_ROWS):
        result = session.execute(
            update(TicketRow)
            .where(TicketRow.source == source, TicketRow.key.in_(gone[start : start + BATCH_ROWS]))
            .where(TicketRow.gone_at.is_(None))
            .values(gone_at=now)
        )
        total += result.rowcount  # type: ignore[attr-defined]
    return total


def stored_keys(session: Session, source: str, projects: Collection[str] | None = None) -> set[str]:
    """Keys not marked gone; only those of `projects` when given."""
    query = select(TicketRow.key).where(TicketRow.source == source, TicketRow.gone_at.is_(None))
    if projects is not None:
        if not projects:
            return set()
        query = query.where(TicketRow.project.in_(list(projects)))
    return set(session.scalars(query))


@dataclass(frozen=True)
class Cursor:
    value: str | None
    etag: str | None


def get_cursor(session: Session, source: str, stream: str) -> Cursor:
    row = session.get(SyncCursorRow, (source, stream))
    return Cursor(row.value, row.etag) if row else Cursor(None, None)


def cursors(session: Session, source: str) -> dict[str, Cursor]:
    """Every stream's cursor of one source (a listing judges what it lists against them)."""
    rows = session.scalars(select(SyncCursorRow).where(SyncCursorRow.source == source))
    return {row.stream: Cursor(row.value, row.etag) for row in rows}


def save_cursor(session: Session, source: str, stream: str, cursor: Cursor, now: datetime) -> None:
    """Saved in the caller's transaction, beside the page it covers: a crash never skips data."""
    bulk_upsert(
        session,
        SyncCursorRow,
        [
            {
                "source": source,
                "stream": stream,
                "value": cursor.value,
                "etag": cursor.etag,
                "updated_at": now,
            }
        ],
    )
