"""Effort by goal: the share of delivered work that went to each motivator, decision and
capability, and to untraced work.

Work is counted in one unit per ticket: its story points when it has them, else its size
(a label with a configured prefix, such as `size:3`), else 1 item. Units are never added
together: each unit gets its own totals and shares. Work traced to several capabilities is
split evenly between them; a capability's part is split evenly between its active decisions,
and a decision's part between its active motivators, so every level adds up to the total.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bmmsync.domain import Model, Status, Ticket

UNTRACED = "(untraced)"
NO_DECISION = "(no decision)"
"""Buckets of their own, so that every level of a unit adds up to its total."""


class Unit(StrEnum):
    POINTS = "points"
    SIZE = "size"
    ITEMS = "items"


@dataclass(frozen=True, slots=True)
class SizeRule:
    """Where a ticket's size is when it has no story points: a label such as `size:3`."""

    label_prefix: str | None = None

    def size_of(self, ticket: Ticket) -> float | None:
        if self.label_prefix:
            prefix = self.label_prefix.lower()
            for label in ticket.labels:
                if label.lower().startswith(prefix):
                    value = _number(label[len(prefix) :])
                    if value is not None:
                        return value
        return None


_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def work_of(ticket: Ticket, size: SizeRule) -> tuple[Unit, float]:
    """(unit, amount): story points, else size, else one item."""
    if ticket.story_points is not None:
        return Unit.POINTS, float(ticket.story_points)
    found = size.size_of(ticket)
    if found is not None:
        return Unit.SIZE, found
    return Unit.ITEMS, 1.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """A ticket closed in the period, its work, and the capabilities its trace reached
    (empty when it is not traced)."""

    source: str
    key: str
    closed_at: datetime
    unit: Unit
    amount: float
    capabilities: tuple[str, ...] = ()

    @property
    def traced(self) -> bool:
        return bool(self.capabilities)


@dataclass(frozen=True, slots=True)
class GoalMap:
    """Active decisions per capability and active motivators per decision."""

    decisions_of: Mapping[str, tuple[str, ...]]
    motivators_of: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, model: Model) -> GoalMap:
        active_m = {m.id for m in model.motivators if m.status is Status.ACTIVE}
        decisions = {d.id: d for d in model.decisions if d.status is Status.ACTIVE}
        return cls(
            {
                c.id: tuple(d for d in dict.fromkeys(c.decisions) if d in decisions)
                for c in model.capabilities
            },
            {
                d.id: tuple(m for m in dict.fromkeys(d.motivators) if m in active_m)
                for d in decisions.values()
            },
        )

    def split(self, item: Delivered) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """(capability, decision, motivator) -> part of the item's amount; untraced work is
        one bucket at every level."""
        return self.split_amount(item.amount, item.capabilities)

    def split_amount(
        self, amount: float, capabilities: tuple[str, ...]
    ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """`split` of `amount` of work traced to `capabilities` (none: untraced)."""
        if not capabilities:
            bucket = {UNTRACED: amount}
            return bucket, dict(bucket), dict(bucket)
        caps: dict[str, float] = defaultdict(float)
        decs: dict[str, float] = defaultdict(float)
        mots: dict[str, float] = defaultdict(float)
        share = amount / len(capabilities)
        for cid in capabilities:
            caps[cid] += share
            dids = self.decisions_of.get(cid, ())
            if not dids:
                decs[NO_DECISION] += share
                mots[NO_DECISION] += share
                continue
            for did in dids:
                part = share / len(dids)
                decs[did] += part
                mids = self.motivators_of.get(did, ())
                for mid in mids or (NO_DECISION,):
                    mots[mid] += part / max(1, len(mids))
        return dict(caps), dict(decs), dict(mots)


@dataclass(slots=True)
class UnitEffort:
    """The work of one unit: total, and amounts per motivator, decision and capability."""

    unit: Unit
    tickets: int = 0
    total: float = 0.0
    untraced: float = 0.0
    by_motivator: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_decision: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_capability: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, item: Delivered, goals: GoalMap) -> None:
        self.tickets += 1
        self.total += item.amount
        if not item.traced:
            self.untraced += item.amount
        self._add_parts(*goals.split(item))

    def add_sums(
        self,
        tickets: int,
        untraced: float | None,
        by_capability: Mapping[str, float],
        goals: GoalMap,
    ) -> None:
        """Add work already summed per capability (each item's amount split evenly between
        its capabilities) and untraced (None: no untraced item), as the dashboard stores it
        per day: splitting is linear, so the split of the sums is the sum of the splits."""
        self.tickets += tickets
        self.total += (untraced or 0.0) + sum(by_capability.values())
        if untraced is not None:
            self.untraced += untraced
            self._add_parts(*goals.split_amount(untraced, ()))
        for cid, amount in by_capability.items():
            self._add_parts(*goals.split_amount(amount, (cid,)))

    def _add_parts(
        self, caps: dict[str, float], decs: dict[str, float], mots: dict[str, float]
    ) -> None:
        for target, parts in (
            (self.by_capability, caps),
            (self.by_decision, decs),
            (self.by_motivator, mots),
        ):
            for name, amount in parts.items():
                target[name] += amount

    def as_dict(self) -> dict[str, Any]:
        def rows(amounts: dict[str, float]) -> list[dict[str, Any]]:
            ordered = sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))
            return [
                {
                    "id": name,
                    "amount": round(amount, 6),
                    "share": round(amount / self.total, 6) if self.total else None,
                }
                for name, amount in ordered
            ]

        return {
            "unit": self.unit.value,
            "tickets": self.tickets,
            "total": round(self.total, 6),
            "untraced": round(self.untraced, 6),
            "untraced_share": round(self.untraced / self.total, 6) if self.total else None,
            "by_motivator": rows(self.by_motivator),
            "by_decision": rows(self.by_decision),
            "by_capability": rows(self.by_capability),
        }


def effort_by_goal(items: Iterable[Delivered], goals: GoalMap) -> dict[Unit, UnitEffort]:
    """One `UnitEffort` per unit present, in unit order (points, size, items)."""
    out: dict[Unit, UnitEffort] = {}
    for item in items:
        out.setdefault(item.unit, UnitEffort(item.unit)).add(item, goals)
    return {unit: out[unit] for unit in Unit if unit in out}
