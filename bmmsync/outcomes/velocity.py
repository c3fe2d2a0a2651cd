"""Delivery velocity: traced items (and story points) closed per week, overall and per
capability and motivator, over a period. Work on several capabilities is split evenly, as
in effort by goal, so per-capability figures add up to the overall one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bmmsync.outcomes.effort import Delivered, GoalMap, Unit
from bmmsync.outcomes.period import Period


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass(slots=True)
class _Count:
    items: float = 0.0
    points: float = 0.0

    def add(self, items: float, points: float) -> None:
        self.items += items
        self.points += points


@dataclass(slots=True)
class Velocity:
    period: Period
    weeks: dict[date, _Count] = field(default_factory=dict)
    overall: _Count = field(default_factory=_Count)
    by_capability: dict[str, _Count] = field(default_factory=lambda: defaultdict(_Count))
    by_motivator: dict[str, _Count] = field(default_factory=lambda: defaultdict(_Count))

    def per_week(self, count: _Count) -> dict[str, float | None]:
        weeks = self.period.weeks
        return {
            "items": round(count.items, 6),
            "points": round(count.points, 6),
            "items_per_week": round(count.items / weeks, 6) if weeks > 0 else None,
            "points_per_week": round(count.points / weeks, 6) if weeks > 0 else None,
        }

    def snapshot(self) -> dict[str, Any]:
        """The per-week figures without the weekly series: what a snapshot keeps."""
        out = self.as_dict()
        del out["series"]
        return out

    def as_dict(self) -> dict[str, Any]:
        def group(counts: dict[str, _Count]) -> dict[str, Any]:
            return {k: self.per_week(counts[k]) for k in sorted(counts)}

        return {
            "weeks": round(self.period.weeks, 3),
            "overall": self.per_week(self.overall),
            "series": [
                {"week": start.isoformat(), "items": round(c.items, 6), "points": c.points}
                for start, c in sorted(self.weeks.items())
            ],
            "by_capability": group(self.by_capability),
            "by_motivator": group(self.by_motivator),
        }


def velocity(items: Iterable[Delivered], goals: GoalMap, period: Period) -> Velocity:
    """Traced items closed in `period`, per ISO week (every week of the period is listed,
    empty ones as 0, so a chart shows the gaps)."""
    out = Velocity(period)
    day = week_start(period.start.date())
    while day < period.end.date():
        out.weeks[day] = _Count()
        day += timedelta(weeks=1)
    for item in items:
        if not item.traced or item.closed_at not in period:
            continue
        points = item.amount if item.unit is Unit.POINTS else 0.0
        out.overall.add(1, points)
        out.weeks.setdefault(week_start(item.closed_at.date()), _Count()).add(1, points)
        caps, _, mots = goals.split(
            Delivered(item.source, item.key, item.closed_at, item.unit, 1.0, item.capabilities)
        )
        for cid, share in caps.items():
            out.by_capability[cid].add(share, points * share)
        for mid, share in mots.items():
            out.by_motivator[mid].add(share, points * share)
    return out
