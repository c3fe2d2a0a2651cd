"""The run lease rows: one holder at a time by the database's clock, a fencing token bumped at
each acquisition, and holders that are gone (or claim too much) taken over at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from bmmsync.errors import LeaseLost
from bmmsync.service.lease import RunLease, holder_gone_from_host, me, process_start
from bmmsync.store.database import SQLITE_BUSY_TIMEOUT_MS, Store
from bmmsync.store.lease import (
    Claimant,
    Grant,
    LeaseHolder,
    current_holder,
    db_now,
    holds,
    release,
    renew,
    try_acquire,
)
from bmmsync.store.models import LeaseRow

TTL = timedelta(seconds=60)
A = Claimant("host-a:1", "cfg", "host-a", 1, "100")
B = Claimant("host-b:2", "cfg", "host-b", 2, "200")


def _set_expiry(store: Store, delta: timedelta) -> None:
    """What a holder whose clock differs from the database's by `delta` would have written."""
    with store.session() as s:
        s.execute(update(LeaseRow).values(expires_at=db_now(s) + delta))


def test_one_holder_at_a_time_and_each_acquisition_bumps_the_token(store: Store) -> None:
    with store.session() as s:
        first = try_acquire(s, A, TTL)
    assert isinstance(first, Grant) and first.token == 1
    with store.session() as s:
        other = try_acquire(s, B, TTL)
    assert isinstance(other, LeaseHolder) and other.holder == A.holder
    with store.session() as s:
        assert renew(s, A.holder, 1, TTL) is not None
        assert holds(s, A.holder, 1)
        release(s, A.holder, 1)
    with store.session() as s:
        assert current_holder(s) is None
        second = try_acquire(s, B, TTL)
    assert isinstance(second, Grant) and second.token == 2
    with store.session() as s:  # A was taken over: its renewal and its fence both fail
        assert renew(s, A.holder, 1, TTL) is None
        assert not holds(s, A.holder, 1)
        release(s, A.holder, 1)  # not A's to release any more
        assert holds(s, B.holder, 2)


def test_expiry_is_judged_by_the_database_clock(store: Store) -> None:
    with store.session() as s:
        assert isinstance(try_acquire(s, A, TTL), Grant)
    _set_expiry(store, timedelta(seconds=-1))
    with store.session() as s:
        assert not holds(s, A.holder, 1), "an expired lease fences its holder off"
        assert isinstance(try_acquire(s, B, TTL), Grant)


def test_a_row_from_a_host_ten_minutes_ahead_is_treated_as_expired(store: Store) -> None:
    with store.session() as s:
        assert isinstance(try_acquire(s, A, TTL), Grant)
    _set_expiry(store, timedelta(minutes=10) + TTL)  # A's clock runs 10 minutes fast
    with store.session() as s:
        assert current_holder(s) is None
        taken = try_acquire(s, B, TTL)
    assert isinstance(taken, Grant) and taken.token == 2
    _set_expiry(store, TTL - timedelta(seconds=1))  # an honest claim is respected
    with store.session() as s:
        assert isinstance(try_acquire(s, A, TTL), LeaseHolder)


def test_a_gone_holder_is_taken_over_before_expiry(store: Store) -> None:
    with store.session() as s:
        assert isinstance(try_acquire(s, A, TTL), Grant)
    with store.session() as s:
        assert isinstance(try_acquire(s, B, TTL, holder_gone=lambda row: False), LeaseHolder)
        taken = try_acquire(s, B, TTL, holder_gone=lambda row: row.holder == A.holder)
    assert isinstance(taken, Grant) and taken.token == 2


def test_dead_or_reused_pid_on_this_host_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start(child.pid)
        assert started
        row = LeaseHolder("x", "cfg", datetime.now(UTC), 1, "here", child.pid, started)
        assert not holder_gone_from_host(row, "here")
        assert not holder_gone_from_host(row, "elsewhere"), "another host's pid says nothing"
        reused = LeaseHolder("x", "cfg", row.expires_at, 1, "here", child.pid, "1")
        assert holder_gone_from_host(reused, "here"), "same pid, another process"
    finally:
        child.kill()
        child.wait()
    assert holder_gone_from_host(row, "here")


def test_run_lease_is_taken_over_at_once_from_a_dead_process(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = me("cfg")
    dead = Claimant(
        f"{dead.host}:{child.pid}", "cfg", dead.host, child.pid, process_start(child.pid)
    )
    with store.session() as s:
        assert isinstance(try_acquire(s, dead, TTL), Grant)
    child.kill()
    child.wait()
    lease = RunLease(store, "cfg")
    assert lease.acquire() is None
    with lease:
        assert lease.token == 2
        with store.session() as s:
            lease.check(s)
    with store.session() as s:
        assert current_holder(s) is None, "closing releases it"


def test_a_long_wait_keeps_the_lease_and_ends_as_soon_as_it_is_lost(store: Store) -> None:
    """A rate-limit wait longer than the TTL: the heartbeat renews the lease through it; once
    another instance takes the lease over, the wait ends with `LeaseLost` at the next beat."""
    lease = RunLease(store, "cfg", ttl=timedelta(seconds=2), heartbeat=timedelta(seconds=0.3))
    assert lease.acquire() is None
    with lease:
        lease.sleep(3)  # longer than the TTL
        with store.session() as s:
            lease.check(s)
            s.execute(update(LeaseRow).values(holder="intruder:1", token=LeaseRow.token + 1))
        started = time.monotonic()
        with pytest.raises(LeaseLost):
            lease.sleep(60)
        assert time.monotonic() - started < 10
        with store.session() as s, pytest.raises(LeaseLost):
            lease.check(s)


def _locked(path: str, seconds: float) -> None:
    """Another connection holds SQLite's write lock for `seconds` (as a full check's
    verdict transaction on a big store does)."""
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    time.sleep(seconds)
    writer.rollback()
    writer.close()


def test_sqlite_locked_past_the_ttl_then_the_next_write_renews_the_lease(tmp_path: Path) -> None:
    """The lease expired while SQLite was locked and nobody took it: the fence renews it in
    the write's transaction instead of stopping the run."""
    path = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{path}")
    lease = RunLease(store, "cfg", ttl=timedelta(seconds=1), heartbeat=timedelta(seconds=600))
    assert lease.acquire() is None
    with lease:
        _locked(str(path), 2)
        with store.session() as s:
            lease.check(s)
        assert not lease.lost.is_set()
        with store.session() as s:
            assert holds(s, lease.holder, lease.token)
    store.close()


def test_sqlite_locked_past_the_busy_timeout_does_not_lose_the_lease(tmp_path: Path) -> None:
    """The heartbeat's renewal waits the whole busy timeout behind the lock and fails late;
    on SQLite that is no loss: nobody can take the lease over while the database is locked."""
    path = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{path}")
    lease = RunLease(store, "cfg", ttl=timedelta(seconds=1), heartbeat=timedelta(seconds=0.2))
    assert lease.acquire() is None
    with lease:
        _locked(str(path), SQLITE_BUSY_TIMEOUT_MS / 1000 + 1)
        assert not lease.lost.is_set()
        with store.session() as s:
            lease.check(s)


def test_sqlite_expired_and_taken_over_is_still_lost(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{path}")
    lease = RunLease(store, "cfg", ttl=timedelta(seconds=1), heartbeat=timedelta(seconds=600))
    assert lease.acquire() is None
    with lease:
        _locked(str(path), 1.5)
        with store.session() as s:
            s.execute(update(LeaseRow).values(holder="intruder:1", token=LeaseRow.token + 1))
        with store.session() as s, pytest.raises(LeaseLost):
            lease.check(s)


def test_a_takeover_waits_for_the_transaction_that_checked_the_fence(store: Store) -> None:
    """On PostgreSQL `holds` share-locks the lease row, so what a writer records in the
    transaction that checked its fence is committed before another instance can take over."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time")
    with store.session() as s:
        grant = try_acquire(s, A, TTL)
    assert isinstance(grant, Grant)
    with store.session() as checking:
        assert holds(checking, A.holder, grant.token)
        with pytest.raises(OperationalError, match="lock timeout"), store.session() as other:
            other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            try_acquire(other, B, TTL, holder_gone=lambda _row: True)
    with store.session() as s:  # once the checking transaction ended, the takeover goes through
        taken = try_acquire(s, B, TTL, holder_gone=lambda _row: True)
    assert isinstance(taken, Grant) and taken.token == grant.token + 1
