"""The run lease: one holder at a time, renewable by its holder, expiring when stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bmmsync.store.database import Store
from bmmsync.store.lease import current_holder, release, try_acquire

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


def test_one_holder_at_a_time(store: Store) -> None:
    with store.session() as s:
        assert try_acquire(s, "a", "cfg1", T0, TTL) is None
    with store.session() as s:
        other = try_acquire(s, "b", "cfg1", T0 + timedelta(minutes=1), TTL)
    assert other is not None and other.holder == "a"
    with store.session() as s:  # the holder renews
        assert try_acquire(s, "a", "cfg1", T0 + timedelta(minutes=2), TTL) is None
        holder = current_holder(s, T0 + timedelta(minutes=3))
    assert holder is not None and holder.expires_at == T0 + timedelta(minutes=12)


def test_stale_lease_expires(store: Store) -> None:
    with store.session() as s:
        assert try_acquire(s, "crashed", "cfg1", T0, TTL) is None
    with store.session() as s:
        assert try_acquire(s, "b", "cfg2", T0 + TTL + timedelta(seconds=1), TTL) is None
        holder = current_holder(s, T0 + TTL + timedelta(seconds=2))
    assert holder is not None and (holder.holder, holder.config_digest) == ("b", "cfg2")


def test_release_frees_at_once(store: Store) -> None:
    with store.session() as s:
        assert try_acquire(s, "a", "cfg", T0, TTL) is None
        release(s, "b", T0)  # not b's to release
    with store.session() as s:
        assert try_acquire(s, "b", "cfg", T0, TTL) is not None
        release(s, "a", T0)
    with store.session() as s:
        assert current_holder(s, T0) is None
        assert try_acquire(s, "b", "cfg", T0, TTL) is None
