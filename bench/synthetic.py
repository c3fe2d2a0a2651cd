"""Synthetic map + backlog for benchmarks (trace core, store, sandbox).

`build(n_tickets, seed)` returns a map of 50 motivators, 200 decisions and 1,000 capabilities
and `n_tickets` tickets, about 30 % of them with parents and about 5 % for each broken reason
(no-capability, unknown, ambiguous, retired capability, capability without decision,
decision without motivator, retired motivator, review overdue, parent missing, parent cycle).
Deterministic for a given seed. `load_store` bulk-loads a map and tickets into a store, the
one loader the store benchmarks share.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table

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
from bmmsync.store.database import Store
from bmmsync.store.map_repo import sync_model
from bmmsync.store.models import TicketRow
from bmmsync.store.ticket_repo import ticket_row

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


LOAD_BATCH = 50_000


def load_store(url: str, model: Model, tickets: Sequence[Ticket], now: datetime) -> None:
    """The map (as `bmmsync model sync` stores it) and `tickets`, in one transaction, through
    the driver: `executemany` on SQLite, `COPY` on PostgreSQL (an ORM or Core insert of a
    million rows spends most of its time per row in Python, and on PostgreSQL in round trips).
    Values go through each column's own bind processing, so the rows read back as the store
    wrote them. Naive `created` stamps (from `build`) are taken as UTC."""
    table = cast(Table, TicketRow.__table__)
    columns = list(table.columns)
    names = ", ".join(c.name for c in columns)
    store = Store.open(url, auto_upgrade=True)
    was_enabled = gc.isenabled()
    gc.disable()  # a million acyclic rows: collections would only cost time
    try:
        with store.session() as session:
            sync_model(session, model, now)
            connection = session.connection()
            dialect = connection.dialect
            convert = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]

            def rows(start: int) -> list[tuple[Any, ...]]:
                out = []
                for ticket in tickets[start : start + LOAD_BATCH]:
                    if ticket.created is not None and ticket.created.tzinfo is None:
                        ticket = _utc_created(ticket)
                    values = ticket_row(ticket, now)
                    out.append(
                        tuple(
                            f(values[c.name]) if f else values[c.name]
                            for c, f in zip(columns, convert, strict=True)
                        )
                    )
                return out

            raw: Any = connection.connection.driver_connection
            if dialect.name == "postgresql":
                with raw.cursor() as cursor:
                    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                        for start in range(0, len(tickets), LOAD_BATCH):
                            for row in rows(start):
                                copy.write_row(row)
                    cursor.execute(f"ANALYZE {table.name}")
            else:
                marks = ", ".join("?" for _ in columns)
                cursor = raw.cursor()
                try:
                    for start in range(0, len(tickets), LOAD_BATCH):
                        cursor.executemany(
                            f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows(start)
                        )
                finally:
                    cursor.close()
    finally:
        if was_enabled:
            gc.enable()
        store.close()


def _utc_created(ticket: Ticket) -> Ticket:
    assert ticket.created is not None
    return replace(ticket, created=ticket.created.replace(tzinfo=UTC))
