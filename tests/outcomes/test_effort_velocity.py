"""Effort by goal and velocity on a hand-computed fixture: mixed units, several capabilities,
a reopened ticket, a ticket moved to another capability, inheritance, a pull request."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bmmsync.checking import Judgement, delivered_work
from bmmsync.domain import Model
from bmmsync.outcomes.effort import UNTRACED, GoalMap, SizeRule, Unit, effort_by_goal
from bmmsync.outcomes.period import quarter
from bmmsync.outcomes.velocity import velocity
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge
from bmmsync.trace.rules import MappingRules
from tests.trace.factories import capability, decision, motivator, ticket

TODAY = date(2026, 12, 7)
Q3 = quarter(2026, 3)  # 2026-07-01 .. 2026-10-01: 92 days


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


MODEL = Model(
    motivators=(motivator("m1"), motivator("m2")),
    decisions=(decision("d1", "m1"), decision("d2", "m1", "m2")),
    capabilities=(capability("c1", "d1"), capability("c2", "d2"), capability("c3", "d1", "d2")),
)


def closed(key: str, *labels: str, when: datetime, **kw: object) -> object:
    return ticket(key, *labels, closed=True, state="Done", closed_at=when, **kw)


TICKETS = [
    closed("T1", "cap:c1", when=at(7, 6), story_points=5.0),
    closed("T2", "cap:c2", "cap:c3", when=at(7, 7), story_points=4.0),  # two capabilities
    closed("T3", when=at(8, 3), story_points=3.0),  # untraced
    closed("T4", "cap:c1", "size:2", when=at(8, 4)),  # sized by label
    closed("T5", "cap:c3", when=at(9, 1)),  # an item
    ticket("T6", "cap:c1", closed=False, state="To Do"),  # reopened: GitHub cleared closed_at
    closed("T7", "cap:c1", when=at(6, 15), story_points=8.0),  # before the period
    closed("T8", "cap:c2", when=at(9, 2)),  # was on c1, relabelled c2 before it closed
    closed("T9", "cap:c1", when=at(9, 3), is_pull_request=True),  # not backlog work
    ticket("EPIC", "cap:c1"),
    closed("T10", when=at(9, 30), parent="EPIC"),  # inherits c1 from its open epic
]


def delivered() -> list:
    index = MapIndex(MODEL)
    rules = MappingRules(allow_multiple=True)
    judgement = Judgement(
        MODEL,
        index,
        TICKETS,
        judge(TICKETS, index, rules, TODAY),
        rules,  # type: ignore[arg-type]
    )
    return delivered_work(judgement, Q3, SizeRule("size:"), TODAY)


def amounts(rows: list[dict]) -> dict[str, float]:
    return {r["id"]: pytest.approx(r["amount"]) for r in rows}


def test_effort_by_goal_per_unit_split_evenly() -> None:
    items = delivered()
    assert sorted(i.key for i in items) == ["T1", "T10", "T2", "T3", "T4", "T5", "T8"]

    effort = {u: e.as_dict() for u, e in effort_by_goal(items, GoalMap.of(MODEL)).items()}

    assert list(effort) == [Unit.POINTS, Unit.SIZE, Unit.ITEMS]  # never added together
    points = effort[Unit.POINTS]
    assert (points["tickets"], points["total"], points["untraced"]) == (3, 12.0, 3.0)
    # T2's 4 points: c2 2, c3 2; c3 halves to d1 1, d2 1; d2 (3) halves to m1 and m2.
    assert amounts(points["by_capability"]) == {"c1": 5, "c2": 2, "c3": 2, UNTRACED: 3}
    assert amounts(points["by_decision"]) == {"d1": 6, "d2": 3, UNTRACED: 3}
    assert amounts(points["by_motivator"]) == {"m1": 7.5, "m2": 1.5, UNTRACED: 3}
    shares = {r["id"]: r["share"] for r in points["by_motivator"]}
    assert shares == {"m1": 0.625, UNTRACED: 0.25, "m2": 0.125}
    size = effort[Unit.SIZE]
    assert (size["total"], amounts(size["by_motivator"])) == (2.0, {"m1": 2})
    items_ = effort[Unit.ITEMS]
    assert items_["total"] == 3.0 and items_["untraced"] == 0.0
    assert amounts(items_["by_capability"]) == {"c1": 1, "c2": 1, "c3": 1}  # T8 on c2 only
    assert amounts(items_["by_motivator"]) == {"m1": 2.25, "m2": 0.75}
    for unit in effort.values():  # every level adds up to the unit's total
        for level in ("by_motivator", "by_decision", "by_capability"):
            assert sum(r["amount"] for r in unit[level]) == pytest.approx(unit["total"])


def test_velocity_per_week_capability_and_motivator() -> None:
    v = velocity(delivered(), GoalMap.of(MODEL), Q3).as_dict()

    weeks = 92 / 7
    assert v["overall"]["items"] == 6  # traced only: T3 is left out
    assert v["overall"]["points"] == 9
    assert v["overall"]["items_per_week"] == pytest.approx(6 / weeks, abs=1e-6)
    by_cap = {k: f["items"] for k, f in v["by_capability"].items()}
    assert by_cap == {"c1": 3, "c2": 1.5, "c3": 1.5}
    by_mot = {k: f["items"] for k, f in v["by_motivator"].items()}
    # m1: T1 1 + T2 .625 + T4 1 + T5 .75 + T8 .5 + T10 1; m2: T2 .375 + T5 .25 + T8 .5
    assert by_mot == pytest.approx({"m1": 4.875, "m2": 1.125})
    assert v["by_motivator"]["m1"]["points"] == pytest.approx(5 + 2.5)
    series = {w["week"]: w["items"] for w in v["series"]}
    assert len(series) == 14 and series["2026-06-29"] == 0  # every week, empty ones too
    assert series["2026-07-06"] == 2 and series["2026-08-03"] == 1  # T1+T2; T4 (T3 untraced)
    assert series["2026-08-31"] == 2 and series["2026-09-28"] == 1  # T5+T8; T10
