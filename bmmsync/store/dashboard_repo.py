"""The dashboard's precomputed figures: replaced whole by each full check, read per scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bmmsync.store.models import DashboardAggregateRow


@dataclass(frozen=True)
class Aggregate:
    computed_at: datetime
    figures: dict[str, Any]


def replace_aggregates(
    session: Session, figures_by_scope: dict[str, dict[str, Any]], now: datetime
) -> None:
    """Drop the previous check's figures and store these (scopes gone from the store go too)."""
    session.execute(delete(DashboardAggregateRow))
    session.add_all(
        DashboardAggregateRow(scope=scope, computed_at=now, figures=figures)
        for scope, figures in figures_by_scope.items()
    )
    session.flush()


def load_aggregate(session: Session, scope: str) -> Aggregate | None:
    """One scope's figures as of the last full check; None before the first check."""
    row = session.execute(
        select(DashboardAggregateRow.computed_at, DashboardAggregateRow.figures).where(
            DashboardAggregateRow.scope == scope
        )
    ).first()
    return Aggregate(row[0], row[1]) if row is not None else None


def load_aggregates(session: Session, prefix: str) -> dict[str, Aggregate]:
    """Every scope whose name starts with `prefix` (e.g. `source:`), by scope name."""
    rows = session.execute(
        select(
            DashboardAggregateRow.scope,
            DashboardAggregateRow.computed_at,
            DashboardAggregateRow.figures,
        ).where(DashboardAggregateRow.scope.startswith(prefix, autoescape=True))
    )
    return {scope: Aggregate(at, figures) for scope, at, figures in rows}


def scope_names(session: Session, prefix: str) -> list[str]:
    """The names of the scopes starting with `prefix`, without reading their figures."""
    query = select(DashboardAggregateRow.scope).where(
        DashboardAggregateRow.scope.startswith(prefix, autoescape=True)
    )
    return sorted(session.scalars(query))


def load_figures_between(session: Session, first: str, last: str) -> list[dict[str, Any]]:
    """The figures of the scopes named `first` to `last` (inclusive), in name order: a
    window of dated scopes through the primary key."""
    query = (
        select(DashboardAggregateRow.figures)
        .where(DashboardAggregateRow.scope >= first, DashboardAggregateRow.scope <= last)
        .order_by(DashboardAggregateRow.scope)
    )
    return list(session.scalars(query))
