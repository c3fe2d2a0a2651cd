"""Metric snapshots: one row of figures per check, read back for `bmmsync report` trends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bmmsync.store.models import MetricSnapshotRow


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    figures: dict[str, Any]


def add_snapshot(session: Session, taken_at: datetime, figures: dict[str, Any]) -> None:
    """Append one snapshot; snapshots are never updated, so trends replay what was measured."""
    session.add(MetricSnapshotRow(taken_at=taken_at, figures=figures))
    session.flush()


def snapshots_since(session: Session, since: datetime) -> list[Snapshot]:
    """Snapshots taken at or after `since`, oldest first (one indexed range scan)."""
    query = (
        select(MetricSnapshotRow.taken_at, MetricSnapshotRow.figures)
        .where(MetricSnapshotRow.taken_at >= since)
        .order_by(MetricSnapshotRow.taken_at, MetricSnapshotRow.id)
    )
    return [Snapshot(taken_at, figures) for taken_at, figures in session.execute(query)]


def snapshot_before(session: Session, at: datetime) -> Snapshot | None:
    """The latest snapshot taken at or before `at` (the dashboard's "since last week")."""
    query = (
        select(MetricSnapshotRow.taken_at, MetricSnapshotRow.figures)
        .where(MetricSnapshotRow.taken_at <= at)
        .order_by(MetricSnapshotRow.taken_at.desc(), MetricSnapshotRow.id.desc())
        .limit(1)
    )
    row = session.execute(query).first()
    return Snapshot(row[0], row[1]) if row is not None else None
