"""The dashboard's aggregates on hand-made tickets: delivery counts traced work only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bmmsync.checking import Judgement, delivered_work, judged_as_open
from bmmsync.config.model_file import load_model
from bmmsync.domain import Ticket
from bmmsync.outcomes.effort import GoalMap, SizeRule, effort_by_goal
from bmmsync.outcomes.period import Period
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge
from bmmsync.trace.rules import MappingRules
from bmmsync.web.aggregates import (
    ALL,
    capability_scope,
    compute_aggregates,
    delivered_by_day,
    delivered_scope,
    effort_of_days,
    week_of,
)
from tests.cli.helpers import REPO

TODAY = date(2026, 11, 23)


def _ticket(n: int, labels: tuple[str, ...], closed_on: date | None = None) -> Ticket:
    closed_at = (
        datetime(closed_on.year, closed_on.month, closed_on.day, 12, tzinfo=UTC)
        if closed_on
        else None
    )
    return Ticket(
        source="web",
        key=f"acme/web#{n}",
        title=f"#{n}",
        project="acme/web",
        labels=labels,
        closed=closed_at is not None,
        state="closed" if closed_at else "open",
        closed_at=closed_at,
        updated=datetime(2026, 11, 20, tzinfo=UTC),
    )


def test_closed_work_and_velocity_count_traced_items_by_week() -> None:
    model = load_model(REPO / "config" / "demo-model.yaml")
    index = MapIndex(model)
    rules = MappingRules()
    tickets = [
        _ticket(1, ("cap:self-service-portal",)),
        _ticket(2, ("cap:self-service-portal",), date(2026, 11, 20)),  # traced, this week
        _ticket(3, ("cap:self-service-portal",), date(2026, 11, 10)),  # traced, 2 weeks ago
        _ticket(4, ("cap:legacy-sso",), date(2026, 11, 20)),  # retired: closed, not traced
        _ticket(5, ("cap:self-service-portal",), date(2026, 5, 1)),  # too old
        _ticket(6, (), date(2026, 11, 21)),  # no capability
    ]
    verdicts = judge(tickets, index, rules, TODAY)
    judgement = Judgement(model, index, tickets, verdicts, rules)
    recent = [t for t in tickets if t.closed_at and t.closed_at.date() >= date(2026, 8, 25)]
    delivered = [(v, t) for t, v in judged_as_open(judgement, recent, TODAY)]
    assert sorted(t.key for _, t in delivered) == ["acme/web#2", "acme/web#3", "acme/web#4",
                                                   "acme/web#6"]  # fmt: skip
    figures = compute_aggregates(verdicts, tickets, delivered)
    everything = figures[ALL]
    assert everything["closed_90_days"] == {"legacy-sso": 1, "self-service-portal": 2}
    assert everything["velocity"] == {
        "self-service-portal": {week_of(date(2026, 11, 10)): 1, week_of(date(2026, 11, 20)): 1}
    }
    own = figures[capability_scope("self-service-portal")]
    assert [r["key"] for r in own["recently_closed"]] == [
        "acme/web#2",
        "acme/web#3",
    ]
    assert everything["overall"]["in_scope"] == 1 and everything["by_state"] == {
        "closed": 5,
        "open": 1,
    }
    assert figures["project:web:acme/web"]["closed_90_days"] == everything["closed_90_days"]
    assert [(b["kind"], b["name"], b["in_scope"]) for b in own["breakdown"]] == [
        ("source", "web", 1),
        ("project", "web:acme/web", 1),
    ]


def test_effort_from_the_stored_days_equals_effort_over_the_tickets() -> None:
    """What /report reads (work summed per day and capability, split once) is what `bmmsync
    report` computes over the tickets (each split on its own), for any window of days."""
    model = load_model(REPO / "config" / "model.example.yaml")
    index = MapIndex(model)
    rules = MappingRules()
    caps = sorted(index.capabilities)
    tickets = []
    for n in range(60):
        labels = tuple(f"cap:{caps[(n * k) % len(caps)]}" for k in range(1 + n % 3))
        labels = () if n % 7 == 0 else labels + (("size:3",) if n % 5 == 0 else ())
        ticket = _ticket(n, labels, date(2026, 8 + n % 4, 1 + n % 28))
        tickets.append(replace(ticket, story_points=2.0 if n % 4 else None))
    judgement = Judgement(model, index, tickets, judge(tickets, index, rules, TODAY), rules)
    size = SizeRule("size:")
    everything = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "")
    days = delivered_by_day(delivered_work(judgement, everything, size, TODAY))
    goals = GoalMap.of(model)
    for first in (date(2026, 8, 1), date(2026, 9, 15), date(2026, 11, 1)):
        window = Period(datetime(first.year, first.month, first.day, tzinfo=UTC),
                        datetime(2026, 12, 1, tzinfo=UTC), "")  # fmt: skip
        expected = [
            e.as_dict()
            for e in effort_by_goal(delivered_work(judgement, window, size, TODAY), goals).values()
        ]
        stored = [f for scope, f in sorted(days.items()) if scope >= delivered_scope(first)]
        got = effort_of_days(stored, goals)
        assert [e["unit"] for e in got] == [e["unit"] for e in expected]
        if first.month == 8:  # every unit, and every ticket, in the widest window
            assert {e["unit"] for e in expected} == {"points", "size", "items"}
            assert sum(e["tickets"] for e in got) == len(tickets)
        for mine, theirs in zip(got, expected, strict=True):
            assert mine["tickets"] == theirs["tickets"] and mine["total"] == theirs["total"]
            for level in ("by_motivator", "by_decision", "by_capability"):
                assert {r["id"]: r["amount"] for r in mine[level]} == pytest.approx(
                    {r["id"]: r["amount"] for r in theirs[level]}, abs=1e-5
                ), level
