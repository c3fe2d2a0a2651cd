"""The durable webhook queue: deliveries in, claims out, exactly once in effect.

A delivery is stored once (unique on tracker + delivery id), so a redelivery or a replay is
a no-op. Workers claim a batch for `ttl`: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
several instances drain one queue without waiting on each other; on SQLite the conditional
UPDATE is atomic (one writer at a time). A claim that is not completed in time (a worker
killed mid-batch) is free again, and a failed batch is retried after a growing back-off.
Nothing is dropped: an event leaves the queue only by being completed. Handling an event
twice is harmless because the worker reads the tracker fresh and the executor is idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bmmsync.store.models import WebhookEventRow, WebhookRefusalRow

MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class Delivery:
    """A verified, parsed delivery ready to queue. `detail` is what the worker needs beyond
    the keys: a label change that may be bmmsync's own echo (skipped without a GET), or a
    renamed label (whose tickets the worker looks up)."""

    tracker: str
    delivery_id: str
    event: str
    source: str
    keys: tuple[str, ...]
    detail: dict[str, Any]


@dataclass(frozen=True)
class QueuedEvent:
    id: int
    event: str
    source: str
    keys: tuple[str, ...]
    detail: dict[str, Any]
    attempts: int


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def enqueue(session: Session, delivery: Delivery, now: datetime) -> bool:
    """Store the delivery unless its id is already queued. True when it is new."""
    stmt = (
        _insert(session)(WebhookEventRow)
        .values(
            tracker=delivery.tracker,
            delivery_id=delivery.delivery_id[:200],
            event=delivery.event,
            source=delivery.source,
            keys=list(delivery.keys),
            detail=delivery.detail,
            received_at=now,
            not_before=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["tracker", "delivery_id"])
        .returning(WebhookEventRow.id)
    )
    return session.execute(stmt).scalar() is not None


@dataclass(frozen=True)
class Claim:
    """Events claimed together; `token` (holder plus a random part) proves the claim."""

    token: str
    events: list[QueuedEvent]


def claim(session: Session, holder: str, now: datetime, ttl: timedelta, limit: int = 100) -> Claim:
    """Claim up to `limit` due events, oldest first, for `ttl`. Commit promptly after."""
    token = f"{holder}/{uuid.uuid4().hex[:12]}"
    free = or_(WebhookEventRow.claimed_until.is_(None), WebhookEventRow.claimed_until <= now)
    due = (
        select(WebhookEventRow.id)
        .where(WebhookEventRow.done_at.is_(None), WebhookEventRow.not_before <= now, free)
        .order_by(WebhookEventRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return Claim(token, [])
    session.execute(
        update(WebhookEventRow)
        .where(WebhookEventRow.id.in_(ids), WebhookEventRow.done_at.is_(None), free)
        .values(
            claimed_by=token,
            claimed_until=now + ttl,
            attempts=WebhookEventRow.attempts + 1,
        )
    )
    rows = session.scalars(
        select(WebhookEventRow)
        .where(WebhookEventRow.id.in_(ids), WebhookEventRow.claimed_by == token)
        .order_by(WebhookEventRow.id)
    )
    return Claim(
        token,
        [
            QueuedEvent(r.id, r.event, r.source, tuple(r.keys), dict(r.detail or {}), r.attempts)
            for r in rows
        ],
    )


def complete(session: Session, ids: Sequence[int], token: str, now: datetime) -> None:
    """Mark claimed events done (only those still claimed under `token`)."""
    session.execute(
        update(WebhookEventRow)
        .where(WebhookEventRow.id.in_(ids), WebhookEventRow.claimed_by == token)
        .values(done_at=now, claimed_until=None, last_error=None)
    )


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s ... after each failed attempt, at most `MAX_BACKOFF`."""
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


def retry_later(
    session: Session, ids: Sequence[int], token: str, error: str, now: datetime
) -> None:
    """Release claimed events for a later attempt, after the back-off their attempts earn."""
    rows = session.execute(
        select(WebhookEventRow.id, WebhookEventRow.attempts).where(
            WebhookEventRow.id.in_(ids), WebhookEventRow.claimed_by == token
        )
    ).all()
    for row_id, attempts in rows:
        session.execute(
            update(WebhookEventRow)
            .where(WebhookEventRow.id == row_id)
            .values(
                claimed_until=None,
                claimed_by=None,
                last_error=error[:2000],
                not_before=now + backoff(attempts),
            )
        )


def depth(session: Session) -> int:
    """Events not yet done (waiting, claimed or backing off): what `status` shows."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(WebhookEventRow)
            .where(WebhookEventRow.done_at.is_(None))
        )
        or 0
    )


def count_refusal(session: Session, tracker: str, cause: str, now: datetime) -> None:
    """Count a refused or ignored delivery by tracker and cause."""
    stmt = _insert(session)(WebhookRefusalRow).values(
        tracker=tracker, cause=cause, count=1, last_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tracker", "cause"],
        set_={"count": WebhookRefusalRow.count + 1, "last_at": stmt.excluded.last_at},
    )
    session.execute(stmt)


@dataclass(frozen=True)
class TrackerHealth:
    """What `bmmsync webhooks check` prints for one tracker."""

    tracker: str
    last_delivery: datetime | None
    deliveries: int
    pending: int
    failing: int
    last_error: str | None
    refusals: dict[str, int]


def health(session: Session, trackers: Sequence[str]) -> list[TrackerHealth]:
    result = []
    for tracker in trackers:
        rows = WebhookEventRow
        last, total = session.execute(
            select(func.max(rows.received_at), func.count()).where(rows.tracker == tracker)
        ).one()
        pending = session.scalar(
            select(func.count()).where(rows.tracker == tracker, rows.done_at.is_(None))
        )
        failing = session.scalar(
            select(func.count()).where(
                rows.tracker == tracker, rows.done_at.is_(None), rows.last_error.is_not(None)
            )
        )
        last_error = session.scalar(
            select(rows.last_error)
            .where(rows.tracker == tracker, rows.done_at.is_(None), rows.last_error.is_not(None))
            .order_by(rows.id.desc())
            .limit(1)
        )
        refusals = {
            cause: count
            for cause, count in session.execute(
                select(WebhookRefusalRow.cause, WebhookRefusalRow.count)
                .where(WebhookRefusalRow.tracker == tracker)
                .order_by(WebhookRefusalRow.cause)
            )
        }
        result.append(
            TrackerHealth(
                tracker,
                last,
                int(total or 0),
                int(pending or 0),
                int(failing or 0),
                last_error,
                refusals,
            )
        )
    return result
