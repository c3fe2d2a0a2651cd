"""Tickets and sync cursors in the store, written in bulk and read in streams."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from bmmsync.domain import Ticket
from bmmsync.store.models import SyncCursorRow, TicketRow
from bmmsync.store.upsert import BATCH_ROWS, bulk_upsert


@dataclass
class UpsertCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        return self


def ticket_row(ticket: Ticket, synced_at: datetime) -> dict[str, Any]:
    return {
        "source": ticket.source,
        "key": ticket.key,
        "url": ticket.url,
        "title": ticket.title,
        "type": ticket.type,
        "state": ticket.state,
        "closed": ticket.closed,
        "labels": list(ticket.labels),
        "fields": ticket.fields,
        "parent_key": ticket.parent_key,
        "assignee": ticket.assignee,
        "project": ticket.project,
        "story_points": ticket.story_points,
        "created": ticket.created,
        "updated": ticket.updated,
        "is_pull_request": ticket.is_pull_request,
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
)


def upsert_tickets(session: Session, tickets: Sequence[Ticket], now: datetime) -> UpsertCounts:
    """Store `tickets` (one batch, e.g. one page). One SELECT and one upsert per 1,000 rows."""
    counts = UpsertCounts()
    for start in range(0, len(tickets), BATCH_ROWS):
        batch = {(t.source, t.key): ticket_row(t, now) for t in tickets[start : start + BATCH_ROWS]}
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
    )


def iter_tickets(
    session: Session, *, source: str | None = None, include_gone: bool = False
) -> Iterator[Ticket]:
    """Every stored ticket, streamed in batches (memory stays flat on a million rows)."""
    query = select(TicketRow).execution_options(yield_per=BATCH_ROWS)
    if source is not None:
        query = query.where(TicketRow.source == source)
    if not include_gone:
        query = query.where(TicketRow.gone_at.is_(None))
    for row in session.scalars(query):
        yield to_ticket(row)
        session.expunge(row)


def get_tickets(session: Session, keys: Iterable[str]) -> list[Ticket]:
    wanted = list(keys)
    rows = session.scalars(select(TicketRow).where(TicketRow.key.in_(wanted)))
    return [to_ticket(r) for r in rows]


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


def stored_keys(session: Session, source: str) -> set[str]:
    return set(
        session.scalars(
            select(TicketRow.key).where(TicketRow.source == source, TicketRow.gone_at.is_(None))
        )
    )


@dataclass(frozen=True)
class Cursor:
    value: str | None
    etag: str | None


def get_cursor(session: Session, source: str, stream: str) -> Cursor:
    row = session.get(SyncCursorRow, (source, stream))
    return Cursor(row.value, row.etag) if row else Cursor(None, None)


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
