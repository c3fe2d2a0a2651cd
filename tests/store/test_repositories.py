"""Store repositories on SQLite and PostgreSQL: bulk upserts are idempotent, the map retires."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text

from bmmsync.domain import Capability, Decision, Model, Motivator, Status, Target, Ticket
from bmmsync.store.database import Store
from bmmsync.store.map_repo import load_model, sync_model
from bmmsync.store.models import CapabilityRow, TicketRow
from bmmsync.store.ticket_repo import (
    Cursor,
    get_cursor,
    iter_tickets,
    mark_gone,
    save_cursor,
    upsert_tickets,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

MODEL = Model(
    motivators=(
        Motivator(
            id="retention",
            name="Increase customer retention",
            targets=(Target("churn", "< 10%", date(2026, 12, 31)),),
            review_by=date(2027, 1, 31),
        ),
    ),
    decisions=(Decision(id="onboarding", name="Improve onboarding", motivators=("retention",)),),
    capabilities=(
        Capability(
            id="portal", name="Self-service portal", aliases=("ssp",), decisions=("onboarding",)
        ),
        Capability(id="export", name="Export user data", decisions=("onboarding",)),
    ),
)


def _ticket(n: int, **changes: object) -> Ticket:
    base = Ticket(
        source="web",
        key=f"acme/web#{n}",
        title=f"Ticket {n}",
        labels=("cap:portal",),
        fields={"type": None},
        updated=NOW - timedelta(minutes=n),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_model_sync_is_idempotent_and_retires(store: Store) -> None:
    with store.session() as s:
        first = sync_model(s, MODEL, NOW)
    assert first.added == {
        "motivators": ["retention"],
        "decisions": ["onboarding"],
        "capabilities": ["portal", "export"],
    }
    with store.session() as s:
        assert sync_model(s, MODEL, NOW).unchanged
    smaller = replace(MODEL, capabilities=MODEL.capabilities[:1])
    with store.session() as s:
        report = sync_model(s, smaller, NOW)
    assert report.retired == {"capabilities": ["export"]}
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(CapabilityRow)) == 2
        loaded = load_model(s)
    assert [(c.id, c.status) for c in loaded.capabilities] == [
        ("export", Status.RETIRED),
        ("portal", Status.ACTIVE),
    ]
    assert loaded.motivators == MODEL.motivators
    assert loaded.capabilities[1] == MODEL.capabilities[0]


def test_ticket_upsert_counts_and_is_idempotent(store: Store) -> None:
    tickets = [_ticket(n) for n in range(1, 2501)]
    with store.session() as s:
        counts = upsert_tickets(s, tickets, NOW)
    assert (counts.new, counts.changed, counts.unchanged) == (2500, 0, 0)
    with store.session() as s:
        counts = upsert_tickets(s, tickets, NOW)
    assert (counts.new, counts.changed, counts.unchanged) == (0, 0, 2500)
    changed = [_ticket(7, labels=("cap:export",), fields={"Capability": {"value": "x"}})]
    with store.session() as s:
        counts = upsert_tickets(s, changed, NOW)
    assert (counts.new, counts.changed) == (0, 1)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketRow)) == 2500
        stored = {t.key: t for t in iter_tickets(s)}
    assert stored["acme/web#7"].labels == ("cap:export",)
    assert stored["acme/web#7"].fields == {"Capability": {"value": "x"}}
    assert stored["acme/web#8"].updated == NOW - timedelta(minutes=8)


def test_stamps_read_back_as_utc_to_the_microsecond_whatever_the_session_zone(
    store: Store,
) -> None:
    created = datetime(2025, 3, 30, 1, 59, 59, 500, tzinfo=UTC)
    closed = datetime(2026, 10, 25, 0, 30, 0, 123456, tzinfo=UTC)
    ticket = _ticket(1, created=created, updated=NOW, closed=True, closed_at=closed)
    with store.session() as s:
        upsert_tickets(s, [ticket, _ticket(2)], NOW)
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SET LOCAL TimeZone = 'Asia/Kolkata'"))
            s.execute(text("SET LOCAL DateStyle = 'SQL, DMY'"))
        stored = {t.key: t for t in iter_tickets(s)}
    first = stored["acme/web#1"]
    assert (first.created, first.updated, first.closed_at) == (created, NOW, closed)
    assert {first.created.tzinfo, first.closed_at.tzinfo} == {UTC}  # type: ignore[union-attr]
    assert stored["acme/web#2"].closed_at is None


def test_mark_gone_hides_ghosts_and_a_resync_revives(store: Store) -> None:
    with store.session() as s:
        upsert_tickets(s, [_ticket(1), _ticket(2)], NOW)
        assert mark_gone(s, "web", ["acme/web#2"], NOW) == 1
    with store.session() as s:
        assert [t.key for t in iter_tickets(s)] == ["acme/web#1"]
        upsert_tickets(s, [_ticket(2)], NOW)
    with store.session() as s:
        assert sorted(t.key for t in iter_tickets(s)) == ["acme/web#1", "acme/web#2"]


def test_cursor_round_trip(store: Store) -> None:
    with store.session() as s:
        assert get_cursor(s, "web", "repo:acme/web") == Cursor(None, None)
        save_cursor(s, "web", "repo:acme/web", Cursor("2026-11-23T12:00:00Z", 'W/"e1"'), NOW)
        save_cursor(s, "web", "repo:acme/web", Cursor("2026-11-23T12:05:00Z", 'W/"e2"'), NOW)
    with store.session() as s:
        assert get_cursor(s, "web", "repo:acme/web") == Cursor("2026-11-23T12:05:00Z", 'W/"e2"')
