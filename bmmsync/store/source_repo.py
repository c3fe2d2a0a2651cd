"""Per-source sync bookkeeping: how the last sync went, and when the last full one ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bmmsync.store.models import SourceRow
from bmmsync.store.upsert import bulk_upsert


def last_full_sync(session: Session, name: str) -> datetime | None:
    row = session.get(SourceRow, name)
    return row.last_full_sync_at if row else None


def record_sync(
    session: Session,
    *,
    name: str,
    kind: str,
    now: datetime,
    error: str | None,
    rate_limit_remaining: int | None,
    full: bool,
) -> None:
    """Store the outcome of one source's sync (never a secret: errors are already masked)."""
    row = session.get(SourceRow, name)
    previous_full = row.last_full_sync_at if row else None
    bulk_upsert(
        session,
        SourceRow,
        [
            {
                "name": name,
                "kind": kind,
                "last_sync_at": now,
                "last_result": "failed" if error else "ok",
                "last_error": error,
                "last_full_sync_at": now if full and not error else previous_full,
                "rate_limit_remaining": rate_limit_remaining,
            }
        ],
    )
