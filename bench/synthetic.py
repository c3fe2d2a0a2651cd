"""Synthetic map + backlog for benchmarks (trace core, store, sandbox).

`build(n_tickets, seed)` returns a map of 50 motivators, 200 decisions and 1,000 capabilities
and `n_tickets` tickets, about 30 % of them with parents and about 5 % for each broken reason
(no-capability, unknown, ambiguous, retired capability, capability without decision,
decision without motivator, retired motivator, review overdue, parent missing, parent cycle).
Deterministic for a given seed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

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

TODAY = date(2026, 6, 1)
REASONS = (
    "no-capability",
    "unknown-capability",
    "ambiguous-capability",
    "retired-capability",
    "capability-without-decision",
    "decision-without-motivator",
    "retired-motivator",
    "motivator-review-overdue",
    "parent-missing",
    "parent-cycle",
)


def build_model(seed: int = 0) -> Model:
    rng = random.Random(seed)
    motivators = []
    for i in range(50):
        status = Status.RETIRED if 40 <= i < 45 else Status.ACTIVE
        review = TODAY - timedelta(days=30) if i >= 45 else TODAY + timedelta(days=90)
        targets = (Target("churn", f"< {rng.randint(5, 15)}%", TODAY - timedelta(days=10)),)
        motivators.append(
            Motivator(
                f"m-{i:02d}", f"Motivator {i}", targets=targets, review_by=review, status=status
            )
        )
    assessments = tuple(
        Assessment(f"m-{i:02d}", TODAY - timedelta(days=20), "measured", float(rng.randint(3, 20)))
        for i in range(0, 50, 2)
    )
    decisions = []
    for i in range(200):
        if i < 180:
            mots = tuple(sorted({f"m-{rng.randrange(40):02d}" for _ in range(rng.randint(1, 2))}))
        elif i < 187:
            mots = ()
        elif i < 194:
            mots = (f"m-{rng.randrange(40, 45):02d}",)
        else:
            mots = (f"m-{rng.randrange(45, 50):02d}",)
        decisions.append(Decision(f"d-{i:03d}", f"Decision {i}", mots))
    capabilities = []
    for i in range(1000):
        status = Status.ACTIVE
        if i < 900:
            decs: tuple[str, ...] = (f"d-{rng.randrange(180):03d}",)
        elif i < 920:
            decs, status = (f"d-{rng.randrange(180):03d}",), Status.RETIRED
        elif i < 940:
            decs = ()
        elif i < 960:
            decs = (f"d-{rng.randrange(180, 187):03d}",)
        elif i < 980:
            decs = (f"d-{rng.randrange(187, 194):03d}",)
        else:
            decs = (f"d-{rng.randrange(194, 200):03d}",)
        capabilities.append(
            Capability(f"cap-{i:04d}", f"Capability {i}", (f"alias-{i:04d}",), decs, status=status)
        )
    return Model(tuple(motivators), assessments, tuple(decisions), tuple(capabilities))


_BROKEN_CAP_RANGE = {
    "retired-capability": (900, 920),
    "capability-without-decision": (920, 940),
    "decision-without-motivator": (940, 960),
    "retired-motivator": (960, 980),
    "motivator-review-overdue": (980, 1000),
}


def build(n_tickets: int, seed: int = 0) -> tuple[Model, list[Ticket]]:
    """The synthetic map and `n_tickets` tickets (see the module docstring)."""
    rng = random.Random(seed)
    model = build_model(seed)
    tickets: list[Ticket] = []
    healthy_roots: list[str] = []
    created = datetime(2026, 1, 1)
    noise = ("bug", "frontend", "backend", "tech-debt", "ux")
    i = 0
    while i < n_tickets:
        roll = rng.random()
        project = f"P{rng.randrange(20):02d}"
        key = f"{project}-{i}"
        labels: list[str] = [rng.choice(noise)] if rng.random() < 0.5 else []
        parent: str | None = None
        if roll < 0.525:
            if healthy_roots and rng.random() < 0.4:
                parent = rng.choice(healthy_roots)
            else:
                labels.append(f"cap:cap-{rng.randrange(900):04d}")
                healthy_roots.append(key)
        else:
            # Nine reasons at 5 % of rolls each; a cycle roll makes two tickets, so 2.5 %.
            reason = REASONS[min(int((roll - 0.525) / 0.05), 9)]
            if reason == "unknown-capability":
                labels.append(f"cap:cap-{rng.randrange(100):03d}x")
            elif reason == "ambiguous-capability":
                labels += [
                    f"cap:cap-{rng.randrange(450):04d}",
                    f"cap:alias-{rng.randrange(450, 900):04d}",
                ]
            elif reason in _BROKEN_CAP_RANGE:
                labels.append(f"cap:cap-{rng.randrange(*_BROKEN_CAP_RANGE[reason]):04d}")
            elif reason == "parent-missing":
                parent = f"GONE-{i}"
            elif reason == "parent-cycle" and i + 1 < n_tickets:
                other = f"{project}-{i + 1}"
                tickets.append(_ticket(key, labels, other, project, rng, created))
                tickets.append(_ticket(other, [], key, project, rng, created))
                i += 2
                continue
        tickets.append(_ticket(key, labels, parent, project, rng, created))
        i += 1
    return model, tickets


def _ticket(
    key: str,
    labels: list[str],
    parent: str | None,
    project: str,
    rng: random.Random,
    created: datetime,
) -> Ticket:
    return Ticket(
        source="jira",
        key=key,
        title=f"Work item {key}",
        labels=tuple(labels),
        parent_key=parent,
        project=project,
        story_points=float(rng.choice((1, 2, 3, 5, 8))) if rng.random() < 0.7 else None,
        created=created,
    )
