"""Small builders for maps and tickets used by the trace tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from bmmsync.domain import (
    Assessment,
    Capability,
    Decision,
    Model,
    Motivator,
    Status,
    Target,
    Ticket,
)
from bmmsync.trace.index import MapIndex

TODAY = date(2026, 6, 1)

A, R = Status.ACTIVE, Status.RETIRED


def motivator(mid: str, status: Status = A, review_by: date | None = None, **kw: Any) -> Motivator:
    return Motivator(
        id=mid, name=kw.pop("name", mid.title()), status=status, review_by=review_by, **kw
    )


def decision(did: str, *motivators: str, status: Status = A) -> Decision:
    return Decision(id=did, name=did.title(), motivators=motivators, status=status)


def capability(cid: str, *decisions: str, status: Status = A, **kw: Any) -> Capability:
    return Capability(
        id=cid,
        name=kw.pop("name", cid.replace("-", " ").title()),
        decisions=decisions,
        status=status,
        **kw,
    )


def demo_model(**overrides: Any) -> Model:
    """A map with one healthy chain per capability and one broken chain per reason."""
    motivators = (
        motivator("retention", owner="cpo"),
        motivator("privacy-law"),
        motivator("old-goal", status=R),
        motivator("stale", review_by=date(2026, 1, 1), owner="ceo"),
        motivator("fresh", review_by=date(2027, 1, 1)),
    )
    decisions = (
        decision("onboarding", "retention"),
        decision("export-data", "privacy-law"),
        decision("orphan-decision"),
        decision("legacy", "old-goal"),
        decision("stale-decision", "stale"),
        decision("mixed-decision", "stale", "fresh"),
        decision("dropped", "retention", status=R),
    )
    capabilities = (
        capability("self-service-portal", "onboarding", aliases=("portal", "SSP")),
        capability("data-export", "export-data", aliases=("export",)),
        capability("no-decision"),
        capability("only-dropped", "dropped"),
        capability("no-motivator", "orphan-decision"),
        capability("legacy-cap", "legacy"),
        capability("stale-cap", "stale-decision"),
        capability("mixed-cap", "mixed-decision"),
        capability("old-portal", "onboarding", status=R, parent="self-service-portal"),
        capability("gone", "onboarding", status=R),
    )
    fields: dict[str, Any] = {
        "motivators": motivators,
        "decisions": decisions,
        "capabilities": capabilities,
        "assessments": (),
    }
    fields.update(overrides)
    return Model(**fields)


def demo_index(**overrides: Any) -> MapIndex:
    return MapIndex(demo_model(**overrides))


_counter = iter(range(1, 10**9))


def ticket(
    key: str | None = None,
    *labels: str,
    parent: str | None = None,
    source: str = "jira",
    project: str = "ACME",
    **kw: Any,
) -> Ticket:
    key = key or f"ACME-{next(_counter)}"
    return Ticket(
        source=source,
        key=key,
        title=kw.pop("title", f"Ticket {key}"),
        labels=tuple(labels),
        parent_key=parent,
        project=project,
        **kw,
    )


def assessment(mid: str, on: date, value: float | None) -> Assessment:
    return Assessment(motivator=mid, date=on, statement=f"{mid} at {value}", value=value)


def target(metric: str, text: str, by: date | None) -> Target:
    return Target(metric=metric, target=text, by=by)
