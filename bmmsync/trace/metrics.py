"""The figures the seeds ask for, from verdicts and the map. Plain data, ready for JSON.

Definitions (the README renders these):
- requirement traceability = in-scope tickets traced / in-scope tickets;
- technical-debt ratio = work of in-scope untraced tickets / work of all in-scope tickets,
  where a ticket's work is its story points, or 1 when it has none (a ticket with 0 points
  counts 0);
- goal achievement rate = key results (targets of active motivators) met by their date /
  key results due (deadline passed); met means the latest measurement on or before the
  deadline meets the target (see `bmmsync.outcomes.keyresults`). A target that does not
  read is listed in `unparseable` (and, when due, counts as missed);
- map coverage = active capabilities with at least one in-scope ticket / active
  capabilities, and active motivators answered by at least one active decision / active
  motivators.
A ratio over nothing is None (not 0 and not 100 %).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from bmmsync.domain import Measurement, Status
from bmmsync.outcomes.keyresults import key_results
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import Verdict


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


@dataclass(slots=True)
class TraceFigures:
    """Traceability and technical debt for one group of verdicts."""

    tickets: int = 0
    in_scope: int = 0
    traced: int = 0
    work: float = 0.0
    untraced_work: float = 0.0
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def traceability(self) -> float | None:
        return _ratio(self.traced, self.in_scope)

    @property
    def debt_ratio(self) -> float | None:
        return _ratio(self.untraced_work, self.work)

    def add(self, verdict: Verdict) -> None:
        self.tickets += 1
        if not verdict.in_scope:
            return
        self.in_scope += 1
        work = 1.0 if verdict.story_points is None else float(verdict.story_points)
        self.work += work
        if verdict.traced:
            self.traced += 1
        else:
            self.untraced_work += work
        primary = verdict.primary
        if primary is not None:
            self.by_reason[primary.reason] = self.by_reason.get(primary.reason, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["traceability"] = self.traceability
        out["debt_ratio"] = self.debt_ratio
        return out


@dataclass(slots=True)
class GoalFigures:
    due: int = 0
    achieved: int = 0
    achieved_ids: list[str] = field(default_factory=list)
    missed_ids: list[str] = field(default_factory=list)
    unparseable: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return _ratio(self.achieved, self.due)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rate"] = self.rate
        return out


@dataclass(slots=True)
class CoverageFigures:
    active_capabilities: int = 0
    capabilities_with_work: int = 0
    active_motivators: int = 0
    motivators_with_decision: int = 0
    idle_capabilities: list[str] = field(default_factory=list)
    undecided_motivators: list[str] = field(default_factory=list)

    @property
    def capability_coverage(self) -> float | None:
        return _ratio(self.capabilities_with_work, self.active_capabilities)

    @property
    def motivator_coverage(self) -> float | None:
        return _ratio(self.motivators_with_decision, self.active_motivators)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["capability_coverage"] = self.capability_coverage
        out["motivator_coverage"] = self.motivator_coverage
        return out


@dataclass(slots=True)
class Metrics:
    """One snapshot: overall figures and the same figures per source, project, capability."""

    today: date
    overall: TraceFigures
    by_source: dict[str, TraceFigures]
    by_project: dict[str, TraceFigures]
    by_capability: dict[str, TraceFigures]
    goals: GoalFigures
    coverage: CoverageFigures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO strings, keys sorted for stable snapshots)."""

        def group(figures: dict[str, TraceFigures]) -> dict[str, Any]:
            return {k: figures[k].as_dict() for k in sorted(figures)}

        return {
            "today": self.today.isoformat(),
            "overall": self.overall.as_dict(),
            "by_source": group(self.by_source),
            "by_project": group(self.by_project),
            "by_capability": group(self.by_capability),
            "goals": self.goals.as_dict(),
            "coverage": self.coverage.as_dict(),
        }


def goal_figures(index: MapIndex, measured: Iterable[Measurement], today: date) -> GoalFigures:
    figures = GoalFigures()
    for kr in key_results(index.model, measured, today):
        name = f"{kr.motivator}: {kr.metric}"
        if kr.spec is None:
            figures.unparseable.append(name)
        if not kr.due:
            continue
        figures.due += 1
        if kr.met:
            figures.achieved += 1
            figures.achieved_ids.append(name)
        else:
            figures.missed_ids.append(name)
    return figures


def coverage_figures(index: MapIndex, worked_on: Iterable[str]) -> CoverageFigures:
    worked = set(worked_on)
    figures = CoverageFigures()
    for cid in index.active_capability_ids():
        figures.active_capabilities += 1
        if cid in worked:
            figures.capabilities_with_work += 1
        else:
            figures.idle_capabilities.append(cid)
    for mid in index.active_motivator_ids():
        figures.active_motivators += 1
        decided = any(
            index.decisions[did].status is Status.ACTIVE
            for did in index.decisions_for_motivator.get(mid, ())
        )
        if decided:
            figures.motivators_with_decision += 1
        else:
            figures.undecided_motivators.append(mid)
    return figures


def compute_metrics(
    verdicts: Iterable[Verdict],
    index: MapIndex,
    today: date,
    measured: Iterable[Measurement] = (),
) -> Metrics:
    """All figures for one run. Linear in the number of verdicts."""
    overall = TraceFigures()
    by_source: dict[str, TraceFigures] = defaultdict(TraceFigures)
    by_project: dict[str, TraceFigures] = defaultdict(TraceFigures)
    by_capability: dict[str, TraceFigures] = defaultdict(TraceFigures)
    worked: set[str] = set()
    for verdict in verdicts:
        overall.add(verdict)
        by_source[verdict.source].add(verdict)
        by_project[f"{verdict.source}:{verdict.project}"].add(verdict)
        if verdict.in_scope:
            for cid in dict.fromkeys(link.capability for link in verdict.links):
                by_capability[cid].add(verdict)
                worked.add(cid)
    return Metrics(
        today=today,
        overall=overall,
        by_source=dict(by_source),
        by_project=dict(by_project),
        by_capability=dict(by_capability),
        goals=goal_figures(index, measured, today),
        coverage=coverage_figures(index, worked),
    )
