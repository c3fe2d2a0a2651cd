"""One writer across instances: a lease row with an expiry and a fencing token.

Every instant here is the database's clock (`db_now`), never the host's, so hosts whose
clocks disagree still agree on who holds the lease. Taking the lease is a compare-and-set on
the fencing `token`, which goes up by one at each acquisition: a holder that was taken over
sees its token gone and must not write again (`holds`, checked in the transaction that
records each write's intent).

Whether the holding *process* is gone (dead pid, a lost PostgreSQL advisory lock) is judged
by the caller (`bmmsync.service.lease`) and passed in: this module only reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bmmsync.store.models import LeaseRow

RUN_LEASE = "run"
LEASE_TTL = timedelta(seconds=60)

# A row claiming more than its TTL ahead of the database clock was written by a host whose
# clock runs fast (or by a bug): no honest holder can claim that, so it counts as expired.
CLOCK_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Claimant:
    """Who asks for the lease: `holder` is what `bmmsync status` shows (host:pid)."""

    holder: str
    config_digest: str
    host: str = ""
    pid: int = 0
    process_start: str = ""


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    config_digest: str
    expires_at: datetime
    token: int = 0
    host: str = ""
    pid: int = 0
    process_start: str = ""


@dataclass(frozen=True)
class Grant:
    """The lease is ours until `expires_at` (database clock), fenced by `token`."""

    token: int
    expires_at: datetime


def db_now(session: Session) -> datetime:
    """The database's clock (UTC). SQLite is a local file: its clock is this host's."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(select(func.clock_timestamp())).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
    stamp: str = session.execute(
        select(literal_column("strftime('%Y-%m-%d %H:%M:%f', 'now')"))
    ).scalar_one()
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def read_lease(session: Session, name: str = RUN_LEASE) -> LeaseHolder | None:
    row = session.get(LeaseRow, name)
    if row is None:
        return None
    return LeaseHolder(
        row.holder,
        row.config_digest,
        row.expires_at,
        row.token,
        row.host,
        row.pid,
        row.process_start,
    )


def is_free(row: LeaseHolder, now: datetime, ttl: timedelta) -> bool:
    """Expired, or claiming an expiry no honest holder could (a host clock running fast)."""
    return row.expires_at <= now or row.expires_at > now + ttl + CLOCK_MARGIN


def try_acquire(
    session: Session,
    me: Claimant,
    ttl: timedelta,
    *,
    holder_gone: Callable[[LeaseHolder], bool] = lambda _row: False,
    name: str = RUN_LEASE,
) -> Grant | LeaseHolder:
    """Take the lease if it is free, ours, or its holder is gone; else return who holds it.

    A compare-and-set on the token: of two instances racing for a free lease, one wins."""
    now = db_now(session)
    expires = now + ttl
    values = {
        "holder": me.holder,
        "config_digest": me.config_digest,
        "host": me.host,
        "pid": me.pid,
        "process_start": me.process_start,
        "acquired_at": now,
        "expires_at": expires,
    }
    row = read_lease(session, name)
    if row is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Of two first acquisitions at once, the second inserts nothing: the other one won.
        stmt = insert(LeaseRow).values(name=name, token=1, **values).on_conflict_do_nothing()
        if session.execute(stmt.returning(LeaseRow.token)).scalar_one_or_none() == 1:
            return Grant(1, expires)
        row = read_lease(session, name)
        assert row is not None
        return row
    if not (row.holder == me.holder or is_free(row, now, ttl) or holder_gone(row)):
        return row
    taken = session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.token == row.token)
        .values(token=row.token + 1, **values)
    )
    if (taken.rowcount or 0) == 1:  # type: ignore[attr-defined]
        return Grant(row.token + 1, expires)
    now_held = read_lease(session, name)
    assert now_held is not None
    return now_held


def renew(
    session: Session, holder: str, token: int, ttl: timedelta, name: str = RUN_LEASE
) -> datetime | None:
    """Push our expiry to the database's now + ttl; None when the lease is no longer ours."""
    expires = db_now(session) + ttl
    done = session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == holder, LeaseRow.token == token)
        .values(expires_at=expires)
    )
    return expires if (done.rowcount or 0) == 1 else None  # type: ignore[attr-defined]


def holds(session: Session, holder: str, token: int, name: str = RUN_LEASE) -> bool:
    """The fence: is the lease still ours with this token, and unexpired? On PostgreSQL the
    row is share-locked, so a takeover waits for the transaction that checked it."""
    query = select(LeaseRow.expires_at).where(
        LeaseRow.name == name, LeaseRow.holder == holder, LeaseRow.token == token
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    expires = session.execute(query).scalar_one_or_none()
    return expires is not None and expires > db_now(session)


def release(session: Session, holder: str, token: int, name: str = RUN_LEASE) -> None:
    """Let the next run start at once (only our own lease, with our token, is released)."""
    session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == holder, LeaseRow.token == token)
        .values(expires_at=db_now(session))
    )


def current_holder(
    session: Session, ttl: timedelta = LEASE_TTL, name: str = RUN_LEASE
) -> LeaseHolder | None:
    """The unexpired holder, by the database's clock (for `bmmsync status`)."""
    row = read_lease(session, name)
    if row is None or is_free(row, db_now(session), ttl):
        return None
    return row
