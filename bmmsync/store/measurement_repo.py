"""Key-result measurements: recorded by `bmmsync model measure`, read by reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bmmsync.domain import Measurement
from bmmsync.store.models import MeasurementRow
from bmmsync.store.upsert import bulk_upsert


def record_measurements(
    session: Session, measurements: Sequence[Measurement], now: datetime
) -> None:
    """Store values; a second value for the same metric and day replaces the first."""
    rows = {
        (m.motivator, m.metric, m.at): {
            "motivator": m.motivator,
            "metric": m.metric,
            "at": m.at,
            "value": m.value,
            "recorded_at": now,
        }
        for m in measurements
    }
    if rows:
        bulk_upsert(session, MeasurementRow, rows.values())


def all_measurements(session: Session) -> list[Measurement]:
    query = select(
        MeasurementRow.motivator, MeasurementRow.metric, MeasurementRow.at, MeasurementRow.value
    ).order_by(MeasurementRow.motivator, MeasurementRow.metric, MeasurementRow.at)
    return [Measurement(*row) for row in session.execute(query)]
