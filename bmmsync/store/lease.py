"""One writer across instances: a lease row with an expiry, taken for each run.

A row rather than a PostgreSQL advisory lock so that one mechanism works on both databases
and a crashed holder's lease simply expires. Taking it is one atomic upsert that succeeds
only when the row is free, expired, or already ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bmmsync.store.models import LeaseRow

RUN_LEASE = "run"


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    config_digest: str
    expires_at: datetime


def try_acquire(
    session: Session,
    holder: str,
    config_digest: str,
    now: datetime,
    ttl: timedelta,
    name: str = RUN_LEASE,
) -> LeaseHolder | None:
    """Take (or renew) the lease. Returns None on success, else who holds it now."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(LeaseRow).values(
        name=name,
        holder=holder,
        config_digest=config_digest,
        acquired_at=now,
        expires_at=now + ttl,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[LeaseRow.name],
        set_={
            "holder": stmt.excluded.holder,
            "config_digest": stmt.excluded.config_digest,
            "acquired_at": stmt.excluded.acquired_at,
            "expires_at": stmt.excluded.expires_at,
        },
        where=(LeaseRow.expires_at <= now) | (LeaseRow.holder == holder),
    )
    session.execute(stmt)
    row = session.execute(
        select(LeaseRow.holder, LeaseRow.config_digest, LeaseRow.expires_at).where(
            LeaseRow.name == name
        )
    ).one()
    if row.holder == holder:
        return None
    return LeaseHolder(row.holder, row.config_digest, row.expires_at)


def release(session: Session, holder: str, now: datetime, name: str = RUN_LEASE) -> None:
    """Let the next run start at once (only our own lease is released)."""
    session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == holder)
        .values(expires_at=now)
    )


def current_holder(session: Session, now: datetime, name: str = RUN_LEASE) -> LeaseHolder | None:
    row = session.get(LeaseRow, name)
    if row is None or row.expires_at <= now:
        return None
    return LeaseHolder(row.holder, row.config_digest, row.expires_at)
