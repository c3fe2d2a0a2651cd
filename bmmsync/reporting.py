"""What `explain`, `report` and `check`'s map findings need from the store, as plain data.

The CLI renders; this module loads and assembles. Figures share one shape: the dict of
`Metrics.as_dict()`, whether computed now or read back from a stored snapshot, so a trend is
just the same keys read from older dicts.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bmmsync.checking import (
    Judgement,
    _keep_stored_suggestions,
    _with_ancestors,
    delivered_work,
    judge_store,
)
from bmmsync.domain import Finding, Measurement, Model
from bmmsync.errors import BmmsyncError
from bmmsync.outcomes.effort import Delivered, GoalMap, SizeRule, effort_by_goal
from bmmsync.outcomes.keyresults import key_results
from bmmsync.outcomes.mapviews import NodeHealth
from bmmsync.outcomes.period import Period
from bmmsync.outcomes.velocity import velocity
from bmmsync.store.map_repo import load_model
from bmmsync.store.measurement_repo import all_measurements
from bmmsync.store.models import TicketRow
from bmmsync.store.snapshot_repo import Snapshot, snapshots_since
from bmmsync.store.ticket_repo import get_tickets, tickets_by_id
from bmmsync.trace.explain import Explanation, explain
from bmmsync.trace.index import MapIndex
from bmmsync.trace.map_findings import map_findings
from bmmsync.trace.metrics import compute_metrics
from bmmsync.trace.rules import MappingRules


class UnknownTicketError(BmmsyncError):
    """The key names no stored ticket (or several, in different sources): a usage error."""

    exit_code = 2


def explain_stored(
    session: Session, rules: MappingRules, today: date, key: str, source: str | None = None
) -> Explanation:
    """Explain a stored ticket. Judges only the ticket and its stored ancestors (all its
    verdict depends on), so the cost does not grow with the store; suggestions that quote a
    project's usage come from the last check's stored problem, as `checking.recheck` keeps
    them. Raises `UnknownTicketError` with the closest stored keys when `key` is unknown, or
    names the sources when it is ambiguous."""
    sources = sorted({t.source for t in get_tickets(session, [key])})
    if source is not None:
        sources = [s for s in sources if s == source]
    if len(sources) > 1:
        raise UnknownTicketError(
            f"{key} is stored in sources {', '.join(sources)}: pass --source to choose one"
        )
    found = None
    if sources:
        chain = _with_ancestors(session, tickets_by_id(session, [(sources[0], key)]))
        found = explain(key, chain, MapIndex(load_model(session)), rules, today, sources[0])
    if found is None:
        where = f" in source {source!r}" if source else ""
        close = closest_keys(session, key, source)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownTicketError(f"no stored ticket {key}{where}{hint}")
    verdicts = [found.verdict]
    _keep_stored_suggestions(session, verdicts)
    return replace(found, verdict=verdicts[0], findings=verdicts[0].findings)


_PROJECT_PREFIX = re.compile(r"^(.*[^0-9A-Za-z])")
"""What keys of one project share: `PLAT-`, `acme/web#`."""

NEIGHBOURS = 50
"""Keys read on each side of an unknown key, per spelling of its case."""


def _typos(key: str) -> set[str]:
    """`key` with one character dropped or two neighbours swapped: slips the key index can
    look up exactly, where the neighbours in key order would miss them (`P1-9` for `P1-99`)."""
    dropped = {key[:i] + key[i + 1 :] for i in range(len(key))}
    swapped = {key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(len(key) - 1)}
    return (dropped | swapped) - {""}


def _after(prefix: str) -> str:
    """The first string after every string that starts with `prefix` (binary order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def closest_keys(session: Session, key: str, source: str | None, limit: int = 3) -> list[str]:
    """Stored keys (not gone) that look like `key`: a different case first, then spelling.
    Only keys near `key` are read, through the key index: those of the same project prefix
    next to it in key order, and its one-slip spellings, each in the key's case, upper and
    lower case; never every stored key."""
    match = _PROJECT_PREFIX.match(key)
    size = len(match.group(1)) if match else 0
    where: list[ColumnElement[bool]] = [TicketRow.gone_at.is_(None)]
    if source is not None:
        where.append(TicketRow.source == source)
    candidates: set[str] = set()
    spellings = list(dict.fromkeys((key, key.upper(), key.lower())))
    for spelling in spellings:
        prefix = spelling[:size]
        bounds = [TicketRow.key >= prefix, TicketRow.key < _after(prefix)] if prefix else []
        above = select(TicketRow.key).where(*where, *bounds, TicketRow.key >= spelling)
        below = select(TicketRow.key).where(*where, *bounds, TicketRow.key < spelling)
        candidates.update(session.scalars(above.order_by(TicketRow.key).limit(NEIGHBOURS)))
        below = below.order_by(TicketRow.key.desc()).limit(NEIGHBOURS)
        candidates.update(session.scalars(below))
    slips = sorted(set().union(*(_typos(s) for s in spellings)))
    exact = select(TicketRow.key).where(*where, TicketRow.key.in_(slips))
    candidates.update(session.scalars(exact))
    keys = sorted(candidates)
    same_case = [k for k in keys if k.lower() == key.lower()]
    spelled = difflib.get_close_matches(key, keys, n=limit, cutoff=0.6)
    return list(dict.fromkeys(same_case + spelled))[:limit]


def map_findings_for(judgement: Judgement, today: date) -> list[Finding]:
    """The admin findings about the map. "Worked on" means linked from an in-scope ticket,
    the same test as the capability-coverage figure, read from the verdicts at no extra cost."""
    worked_on = {link.capability for v in judgement.verdicts if v.in_scope for link in v.links}
    return map_findings(judgement.index, today, worked_on)


HEADLINE: tuple[tuple[str, str], ...] = (
    ("traceability", "requirement traceability"),
    ("debt_ratio", "technical-debt ratio"),
    ("goal_achievement", "goal achievement rate"),
    ("capability_coverage", "capability coverage"),
    ("motivator_coverage", "motivator coverage"),
)
"""(key, label) of the headline figures, in the order the README defines them."""

GROUPS = ("by_source", "by_project", "by_capability")


def headline(figures: dict[str, Any]) -> dict[str, float | None]:
    """The five headline ratios (0..1, None when the ratio is over nothing) of one figures dict."""
    return {
        "traceability": figures["overall"]["traceability"],
        "debt_ratio": figures["overall"]["debt_ratio"],
        "goal_achievement": figures["goals"]["rate"],
        "capability_coverage": figures["coverage"]["capability_coverage"],
        "motivator_coverage": figures["coverage"]["motivator_coverage"],
    }


def _change(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 6)


@dataclass(frozen=True)
class _Baseline:
    """The first snapshot in the window, or nothing when there is none."""

    snapshot: Snapshot | None

    def group(self, group: str, name: str, figure: str) -> float | None:
        if self.snapshot is None:
            return None
        value: float | None = self.snapshot.figures.get(group, {}).get(name, {}).get(figure)
        return value


def build_report(current: dict[str, Any], snapshots: list[Snapshot], since: date) -> dict[str, Any]:
    """The report: current figures overall and per group, each with its change since the first
    snapshot in the window, and the headline figures of every snapshot as a series."""
    baseline = _Baseline(snapshots[0] if snapshots else None)
    now = headline(current)
    first = headline(snapshots[0].figures) if snapshots else dict.fromkeys(now)
    groups: dict[str, dict[str, Any]] = {}
    for group in GROUPS:
        rows: dict[str, Any] = {}
        for name, figures in current[group].items():
            before = baseline.group(group, name, "traceability")
            debt_before = baseline.group(group, name, "debt_ratio")
            rows[name] = {
                key: figures[key]
                for key in ("tickets", "in_scope", "traced", "traceability", "debt_ratio")
            } | {
                "traceability_change": _change(figures["traceability"], before),
                "debt_ratio_change": _change(figures["debt_ratio"], debt_before),
            }
        groups[group] = rows
    return {
        "as_of": current["today"],
        "since": since.isoformat(),
        "overall": {
            key: {"now": now[key], "first": first[key], "change": _change(now[key], first[key])}
            for key, _ in HEADLINE
        },
        "counts": {k: current["overall"][k] for k in ("tickets", "in_scope", "traced")},
        **groups,
        "goals": current["goals"],
        "coverage": current["coverage"],
        "trend": {
            "snapshots": len(snapshots),
            "first_taken_at": snapshots[0].taken_at if snapshots else None,
            "series": [{"taken_at": s.taken_at} | headline(s.figures) for s in snapshots],
        },
    }


def report_store(
    session: Session,
    rules: MappingRules,
    today: date,
    period: Period,
    size: SizeRule | None = None,
) -> dict[str, Any]:
    """Judge the store now (read-only: no verdicts, no snapshot), compare with the snapshots
    taken since the period's start, and add the outcomes of the period: effort by goal,
    velocity (with its trend across the snapshots) and key results."""
    judgement = judge_store(session, rules, today)
    measured = all_measurements(session)
    current = compute_metrics(judgement.verdicts, judgement.index, today, measured).as_dict()
    snapshots = snapshots_since(session, period.start)
    out = build_report(current, snapshots, period.start.date())
    delivered = delivered_work(judgement, period, size or SizeRule(), today)
    out["outcomes"] = outcomes_figures(judgement.model, delivered, measured, period, today)
    out["outcomes"]["velocity"]["trend"] = velocity_trend(snapshots)
    return out


def outcomes_figures(
    model: Model,
    delivered: list[Delivered],
    measured: list[Measurement],
    period: Period,
    today: date,
) -> dict[str, Any]:
    """Effort by goal per unit, velocity and key results, as plain data."""
    goals = GoalMap.of(model)
    names = {m.id: m.name for m in model.motivators}
    return {
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "effort": [e.as_dict() for e in effort_by_goal(delivered, goals).values()],
        "velocity": velocity(delivered, goals, period).as_dict(),
        "key_results": [
            {
                "motivator": kr.motivator,
                "metric": kr.metric,
                "target": kr.target,
                "by": kr.by.isoformat() if kr.by else None,
                "current": kr.current,
                "history": [[at.isoformat(), value] for at, value in kr.history],
                "due": kr.due,
                "met": kr.met,
                "progress": kr.progress,
                "summary": f"{names.get(kr.motivator, kr.motivator)}: {kr.summary()}",
            }
            for kr in key_results(model, measured, today)
        ],
    }


def velocity_trend(snapshots: list[Snapshot]) -> list[dict[str, Any]]:
    """Items and points per week of the four weeks before each snapshot that recorded them."""
    return [
        {"taken_at": s.taken_at.isoformat()}
        | {k: s.figures["velocity"]["overall"][k] for k in ("items_per_week", "points_per_week")}
        for s in snapshots
        if "velocity" in s.figures
    ]


def map_health(session: Session, rules: MappingRules, today: date) -> dict[str, NodeHealth] | None:
    """Per capability: open in-scope tickets linked to it and how many are traced; None when
    the store holds no ticket (the exports then show the map alone)."""
    judgement = judge_store(session, rules, today)
    if not judgement.tickets:
        return None
    counts: dict[str, list[int]] = {}
    for verdict in judgement.verdicts:
        if not verdict.in_scope:
            continue
        for cid in dict.fromkeys(link.capability for link in verdict.links):
            row = counts.setdefault(cid, [0, 0])
            row[0] += 1
            row[1] += verdict.traced
    return {cid: NodeHealth(open_, traced) for cid, (open_, traced) in counts.items()}
