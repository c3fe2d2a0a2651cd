"""Findings about the map itself, for the admins who maintain it (never flagged on tickets).

Each is a `Finding` with an empty `ticket` and the entity id in `detail` (and in the first
backticks of it). A generator, like Doorstop's validator: the caller decides what to print.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from bmmsync.domain import Finding, Status, Ticket
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import CLOSED_STATES
from bmmsync.trace.reasons import SEVERITY_RANK, Reason
from bmmsync.trace.resolve import Resolver
from bmmsync.trace.rules import MappingRules


def _finding(reason: Reason, detail: str, suggestion: str) -> Finding:
    return Finding("", reason.value, reason.severity, detail, suggestion)


def map_findings(
    index: MapIndex,
    today: date,
    worked_on: Iterable[str] | None = None,
) -> list[Finding]:
    """Everything an admin should fix in the map, most severe first, then by reason and id.

    `worked_on` is the set of capability ids that at least one open ticket links to (see
    `capabilities_worked_on`); when None, the capability-without-work check is skipped.
    """
    found = list(_map_findings(index, today, None if worked_on is None else set(worked_on)))
    order = {reason.value: i for i, reason in enumerate(Reason)}
    found.sort(key=lambda f: (SEVERITY_RANK[f.severity], order[f.reason], f.detail))
    return found


def _map_findings(index: MapIndex, today: date, worked_on: set[str] | None) -> Iterator[Finding]:
    active_caps = [c for c in index.capabilities.values() if c.status is Status.ACTIVE]
    active_decisions = [d for d in index.decisions.values() if d.status is Status.ACTIVE]
    active_motivators = [m for m in index.motivators.values() if m.status is Status.ACTIVE]

    for capability in active_caps:
        for did in capability.decisions:
            if did not in index.decisions:
                yield _finding(
                    Reason.MAP_DANGLING_REFERENCE,
                    f"`{capability.id}`: capability refers to undefined decision `{did}`.",
                    f"Define decision `{did}` or remove it from capability `{capability.id}`.",
                )
        live = [
            did
            for did in capability.decisions
            if did in index.decisions and index.decisions[did].status is Status.ACTIVE
        ]
        if not live:
            yield _finding(
                Reason.MAP_CAPABILITY_WITHOUT_DECISION,
                f"`{capability.id}`: capability ({capability.name}) has no active decision.",
                f"Link `{capability.id}` to the decision it serves, or retire it.",
            )
        if capability.parent and capability.parent not in index.capabilities:
            yield _finding(
                Reason.MAP_DANGLING_REFERENCE,
                f"`{capability.id}`: parent capability `{capability.parent}` is undefined.",
                f"Define `{capability.parent}` or clear the parent of `{capability.id}`.",
            )
        if worked_on is not None and capability.id not in worked_on:
            yield _finding(
                Reason.MAP_CAPABILITY_WITHOUT_WORK,
                f"`{capability.id}`: no open ticket works on capability ({capability.name}).",
                f"Check whether `{capability.id}` is still needed, or plan work for it.",
            )

    for decision in active_decisions:
        for mid in decision.motivators:
            if mid not in index.motivators:
                yield _finding(
                    Reason.MAP_DANGLING_REFERENCE,
                    f"`{decision.id}`: decision refers to undefined motivator `{mid}`.",
                    f"Define motivator `{mid}` or remove it from decision `{decision.id}`.",
                )
        if not any(mid in index.motivators for mid in decision.motivators):
            yield _finding(
                Reason.MAP_DECISION_WITHOUT_MOTIVATOR,
                f"`{decision.id}`: decision ({decision.name}) is linked to no motivator.",
                f"Link `{decision.id}` to the motivator it answers, or retire it.",
            )

    for motivator in active_motivators:
        deciding = [
            did
            for did in index.decisions_for_motivator.get(motivator.id, ())
            if index.decisions[did].status is Status.ACTIVE
        ]
        if not deciding:
            yield _finding(
                Reason.MAP_MOTIVATOR_WITHOUT_DECISION,
                f"`{motivator.id}`: no active decision answers motivator ({motivator.name}).",
                f"Record the decision taken for `{motivator.id}`, or retire the motivator.",
            )
        if motivator.review_overdue(today):
            owner = f" ({motivator.owner})" if motivator.owner else ""
            yield _finding(
                Reason.MAP_MOTIVATOR_REVIEW_OVERDUE,
                f"`{motivator.id}`: review was due on {motivator.review_by}.",
                f"Ask the owner{owner} to review `{motivator.id}` and set the next review date.",
            )
        assessments = index.assessments.get(motivator.id, ())
        for target in motivator.targets:
            if target.by is None or target.by >= today:
                continue
            if not any(a.date >= target.by for a in assessments):
                yield _finding(
                    Reason.MAP_TARGET_UNASSESSED,
                    f"`{motivator.id}`: target {target.metric} {target.target} was due "
                    f"{target.by.isoformat()} and has no assessment since.",
                    f"Record an assessment of `{motivator.id}` ({target.metric}).",
                )

    for conflict in index.conflicts:
        yield _finding(
            Reason.MAP_KEY_CONFLICT,
            f"`{conflict.winner}`: key `{conflict.key}` also names {', '.join(conflict.losers)}.",
            f"Rename an alias so `{conflict.key}` names one capability; labels resolve to "
            f"`{conflict.winner}` meanwhile.",
        )


def capabilities_worked_on(
    tickets: Iterable[Ticket], index: MapIndex, rules: MappingRules
) -> set[str]:
    """Capability ids that at least one open, non-PR ticket links to (own or inherited)."""
    by_source: dict[str, dict[str, Ticket]] = {}
    for ticket in tickets:
        by_source.setdefault(ticket.source, {}).setdefault(ticket.key, ticket)
    found: set[str] = set()
    for keyed in by_source.values():
        resolver = Resolver(index, rules, keyed)
        for ticket in keyed.values():
            if ticket.closed or ticket.is_pull_request or ticket.state in CLOSED_STATES:
                continue
            found.update(resolver.resolve(ticket).capabilities)
    return found
