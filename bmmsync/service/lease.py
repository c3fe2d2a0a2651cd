"""The run lease as a process holds it: acquired once, kept alive by a heartbeat, fenced.

Short (60 s, renewed every 20 s) so that a crashed holder is replaced within a minute even
when nothing else can tell it is gone. Usually something can, and the lease is taken over at
once:
- on PostgreSQL, the holder keeps a session-level advisory lock on a connection of its own;
  the server drops it when that connection goes (a killed process, a lost host), so an
  instance that gets the advisory lock knows no live holder remains;
- on any database, a holder on this host whose pid is dead, or now belongs to another
  process (its start time differs), is gone.

Every tracker write calls `check()` in the transaction that records its intent: a process
that lost the lease (taken over, or its heartbeat could not renew it in time) stops before
its next write. On SQLite a renewal that waits behind a locked database is not a loss (no
one can take the lease over while it is locked); the next write renews it if still ours.
`sleep()` is the waits' clock (rate limits, back-off): the heartbeat goes on
renewing during a wait, and a wait ends early, with `LeaseLost`, if the lease is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bmmsync.errors import LeaseLost
from bmmsync.store import lease as rows
from bmmsync.store.database import Store
from bmmsync.store.lease import LEASE_TTL, RUN_LEASE, Claimant, Grant, LeaseHolder

log = logging.getLogger("bmmsync.lease")

HEARTBEAT = timedelta(seconds=20)


def process_start(pid: int) -> str:
    """When `pid` started (clock ticks since boot, from /proc), "" if unknown or a zombie.

    With the pid, it names a process uniquely on this host: a reused pid starts later."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    if fields[0] in ("Z", "X"):  # dead, waiting to be reaped
        return ""
    return fields[19]


def _sqlite_locked(exc: SQLAlchemyError) -> bool:
    """SQLite's busy timeout ran out: a write transaction (perhaps this process's) is open.
    While it is, no other instance can take the lease over either."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def holder_gone_from_host(row: LeaseHolder, host: str) -> bool:
    """True when the holder ran on `host` (this one) and its process is gone or replaced."""
    if row.host != host or row.pid <= 0:
        return False
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    started = process_start(row.pid)
    if os.path.exists("/proc/self/stat"):
        return started == "" or (row.process_start != "" and started != row.process_start)
    return False


def advisory_key(name: str) -> int:
    """A stable 32-bit key for the advisory lock that backs lease `name`."""
    return zlib.crc32(f"bmmsync:{name}".encode())


def me(config_digest: str) -> Claimant:
    host, pid = socket.gethostname(), os.getpid()
    return Claimant(f"{host}:{pid}", config_digest, host, pid, process_start(pid))


class RunLease:
    """`acquire()` -> the lease and its heartbeat, or who holds it; `close()` lets it go.

    Use as a context manager after a successful `acquire()`."""

    def __init__(
        self,
        store: Store,
        config_digest: str,
        *,
        ttl: timedelta = LEASE_TTL,
        heartbeat: timedelta = HEARTBEAT,
        name: str = RUN_LEASE,
    ) -> None:
        self.store = store
        self.claimant = me(config_digest)
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.name = name
        self.token = 0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pin: Connection | None = None  # PostgreSQL: holds the advisory lock

    @property
    def holder(self) -> str:
        return self.claimant.holder

    def acquire(self) -> LeaseHolder | None:
        """Take the lease and start the heartbeat; None on success, else who holds it."""
        advisory = self._advisory_lock()
        if advisory is False:  # a live instance holds it; show who
            with self.store.session() as session:
                row = rows.read_lease(session, self.name)
            return row or LeaseHolder(
                "another instance", self.claimant.config_digest, datetime.now(UTC)
            )
        host = self.claimant.host

        def gone(row: LeaseHolder) -> bool:
            return advisory is True or holder_gone_from_host(row, host)

        with self.store.session() as session:
            got = rows.try_acquire(
                session, self.claimant, self.ttl, holder_gone=gone, name=self.name
            )
        if not isinstance(got, Grant):
            self._unpin()
            return got
        self.token = got.token
        self._last_renewed = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
        self._thread.start()
        log.info("run lease taken", extra={"holder": self.holder, "token": self.token})
        return None

    def _advisory_lock(self) -> bool | None:
        """PostgreSQL: True if we got the advisory lock, False if someone holds it; None on
        other databases."""
        if self.store.engine.dialect.name != "postgresql":
            return None
        self._pin = self.store.engine.connect()
        got = bool(
            self._pin.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}
            ).scalar_one()
        )
        self._pin.commit()
        if not got:
            self._unpin()
        return got

    def _unpin(self) -> None:
        if self._pin is not None:
            with contextlib.suppress(SQLAlchemyError):
                # Unlocked first: the server ends a closed session (and drops its locks)
                # only some time later, and this process's next run may come at once.
                key = advisory_key(self.name)
                self._pin.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            with contextlib.suppress(SQLAlchemyError):
                # Closed, not returned to the pool: ending the session drops the lock.
                self._pin.invalidate()
                self._pin.close()
            self._pin = None

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat.total_seconds()):
            self.renew()
            if self.lost.is_set():
                return

    def renew(self) -> bool:
        """Renew now; a lease that is no longer ours, or could not be renewed within its TTL
        (the database unreachable), is lost."""
        try:
            with self.store.session() as session:
                renewed = rows.renew(session, self.holder, self.token, self.ttl, self.name)
        except SQLAlchemyError as exc:
            late = time.monotonic() - self._last_renewed >= self.ttl.total_seconds()
            log.warning("could not renew the run lease: %s", str(exc).splitlines()[0])
            if late and not _sqlite_locked(exc):
                self._lose("could not renew it within its TTL")
            return False
        if renewed is None:
            self._lose("another instance took it over")
            return False
        self._last_renewed = time.monotonic()
        return True

    def _lose(self, why: str) -> None:
        if not self.lost.is_set():
            log.error("run lease lost: %s; no more tracker writes in this run", why)
        self.lost.set()

    def check(self, session: Session) -> None:
        """The fence, in the caller's transaction: raise `LeaseLost` unless the lease is
        still ours with our token."""
        if self.lost.is_set() or not (
            rows.holds(session, self.holder, self.token, self.name) or self._renew_late(session)
        ):
            self._lose("the fencing token no longer matches")
            raise LeaseLost("the run lease was lost (taken over or expired): writes stopped")

    def _renew_late(self, session: Session) -> bool:
        """SQLite: a write of this very run (a full check's verdicts on a big store) can hold
        the database for longer than the TTL, and the heartbeat waits behind it. No other
        instance could take the lease over meanwhile; if none did since (our token is still
        there), the lease is renewed in the caller's transaction and the run goes on."""
        if session.get_bind().dialect.name != "sqlite":
            return False
        if rows.renew(session, self.holder, self.token, self.ttl, self.name) is None:
            return False
        self._last_renewed = time.monotonic()
        log.info("run lease renewed after SQLite was locked past its TTL")
        return True

    def sleep(self, seconds: float) -> None:
        """A wait (rate limit, back-off) that the heartbeat outlives; ends with `LeaseLost`
        as soon as the lease is lost."""
        if self.lost.wait(max(seconds, 0.0)):
            raise LeaseLost("the run lease was lost during a wait: writes stopped")

    def close(self) -> None:
        """Stop the heartbeat and release the lease (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            if self.token and not self.lost.is_set():
                with self.store.session() as session:
                    rows.release(session, self.holder, self.token, self.name)
        except SQLAlchemyError as exc:  # the database went away: the lease simply expires
            log.error("could not release the run lease: %s", str(exc).splitlines()[0])
        finally:
            self._unpin()

    def __enter__(self) -> RunLease:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()
