"""The dashboard's aggregates on hand-made tickets: delivery counts traced work only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bmmsync.checking import Judgement, judged_as_open
from bmmsync.config.model_file import load_model
from bmmsync.domain import Ticket
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge
from bmmsync.trace.rules import MappingRules
from bmmsync.web.aggregates import ALL, capability_scope, compute_aggregates, week_of
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
