"""The webhook queue: dedupe, claims that expire, back-off, and two workers on one queue."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bmmsync.store.database import Store
from bmmsync.store.event_queue import (
    Delivery,
    claim,
    complete,
    count_refusal,
    depth,
    enqueue,
    health,
    retry_later,
)

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def _delivery(n: int, tracker: str = "github") -> Delivery:
    return Delivery(tracker, f"d-{n}", "issues.labeled", "gh", (f"acme/web#{n}",), {})


def test_a_delivery_id_is_queued_once(store: Store) -> None:
    with store.session() as s:
        assert enqueue(s, _delivery(1), T0)
        assert not enqueue(s, _delivery(1), T0 + timedelta(seconds=5))  # a redelivery
        assert enqueue(s, _delivery(1, "jira"), T0)  # ids are per tracker
    with store.session() as s:
        assert depth(s) == 2


def test_a_claim_is_exclusive_until_it_expires(store: Store) -> None:
    with store.session() as s:
        for n in range(3):
            enqueue(s, _delivery(n), T0)
    with store.session() as s:
        first = claim(s, "a", T0, TTL, limit=2)
    with store.session() as s:
        second = claim(s, "b", T0 + timedelta(seconds=1), TTL)
    assert [e.keys for e in first.events] == [("acme/web#0",), ("acme/web#1",)]
    assert [e.keys for e in second.events] == [("acme/web#2",)]
    with store.session() as s:  # a is killed: its claim expires and b takes the events
        late = claim(s, "b", T0 + TTL + timedelta(milliseconds=500), TTL)
    assert [e.id for e in late.events] == [e.id for e in first.events]
    assert all(e.attempts == 2 for e in late.events)
    with store.session() as s:  # a comes back too late: completing is no longer its to do
        complete(s, [e.id for e in first.events], first.token, T0 + TTL)
        assert depth(s) == 3
        complete(s, [e.id for e in late.events], late.token, T0 + TTL)
        complete(s, [e.id for e in second.events], second.token, T0 + TTL)
        assert depth(s) == 0


def test_a_failed_batch_backs_off_and_is_never_lost(store: Store) -> None:
    with store.session() as s:
        enqueue(s, _delivery(1), T0)
    now = T0
    waits = []
    for _ in range(4):  # the tracker is down: each attempt fails
        with store.session() as s:
            got = claim(s, "w", now, TTL)
            assert len(got.events) == 1
            retry_later(s, [got.events[0].id], got.token, "SourceError: 503", now)
        with store.session() as s:
            assert claim(s, "w", now + timedelta(seconds=1), TTL).events == []
        wait = timedelta(seconds=1)
        while True:
            with store.session() as s:
                got = claim(s, "probe", now + wait, TTL)
                if got.events:
                    retry_later(s, [got.events[0].id], got.token, "probe", now + wait)
                    break
            wait += timedelta(seconds=1)
        waits.append(wait.total_seconds())
        now = now + wait + timedelta(hours=1)
    assert waits[1] > waits[0]
    with store.session() as s:
        assert depth(s) == 1
        (github,) = health(s, ["github"])
    assert github.pending == 1 and github.failing == 1 and github.last_error == "probe"


def test_refusals_are_counted_by_cause(store: Store) -> None:
    with store.session() as s:
        count_refusal(s, "github", "bad-signature", T0)
        count_refusal(s, "github", "bad-signature", T0)
        count_refusal(s, "github", "too-large", T0)
        enqueue(s, _delivery(1), T0)
    with store.session() as s:
        github, jira = health(s, ["github", "jira"])
    assert github.refusals == {"bad-signature": 2, "too-large": 1}
    assert github.last_delivery == T0 and github.deliveries == 1
    assert jira.refusals == {} and jira.last_delivery is None


@pytest.mark.parametrize("workers", [4])
def test_concurrent_workers_never_share_an_event(db_url: str, workers: int) -> None:
    """Real threads, each with its own connection: every event is claimed exactly once
    (SKIP LOCKED on PostgreSQL, the atomic conditional UPDATE on SQLite)."""
    stores = [Store.open(db_url) for _ in range(workers)]
    try:
        with stores[0].session() as s:
            for n in range(200):
                enqueue(s, _delivery(n), T0)
        taken: list[list[int]] = [[] for _ in range(workers)]
        start = threading.Barrier(workers)
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                start.wait()
                while True:
                    with stores[i].session() as s:
                        got = claim(s, f"w{i}", T0, TTL, limit=7)
                    if not got.events:
                        return
                    taken[i].extend(e.id for e in got.events)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        every = [i for ids in taken for i in ids]
        assert len(every) == 200 and len(set(every)) == 200
    finally:
        for st in stores:
            st.close()
