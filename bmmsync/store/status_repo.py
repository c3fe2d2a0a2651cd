"""What `bmmsync status` reads: the last runs, per-source sync state, flags, the lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bmmsync.store.lease import LeaseHolder, current_holder
from bmmsync.store.models import FlagRow, RunRow, SourceRow


@dataclass
class SourceStatus:
    name: str
    kind: str
    last_sync_at: datetime | None
    last_result: str | None
    last_error: str | None
    rate_limit_remaining: int | None
    flagged: int
    deferred: int


@dataclass
class StoreStatus:
    last_run: dict[str, Any] | None
    last_finished_run: dict[str, Any] | None
    lease: LeaseHolder | None
    sources: list[SourceStatus]
    failures_in_a_row: int  # finished runs, newest first, that failed (the back-off's n)


def read_status(session: Session) -> StoreStatus:
    """Four small queries, whatever the size of the store."""
    runs = session.scalars(select(RunRow).order_by(RunRow.started_at.desc()).limit(10)).all()
    last = runs[0] if runs else None
    finished = [r for r in runs if r.finished_at is not None]
    failures = next((n for n, r in enumerate(finished) if r.result != "failed"), len(finished))
    active = (FlagRow.flagged_at.is_not(None)) & (FlagRow.cleared_at.is_(None))
    counts = {
        row.source: (row.flagged, row.deferred)
        for row in session.execute(
            select(
                FlagRow.source,
                func.count().filter(active).label("flagged"),
                func.count().filter(FlagRow.deferred.is_(True)).label("deferred"),
            ).group_by(FlagRow.source)
        )
    }
    sources = [
        SourceStatus(
            name=s.name,
            kind=s.kind,
            last_sync_at=s.last_sync_at,
            last_result=s.last_result,
            last_error=s.last_error,
            rate_limit_remaining=s.rate_limit_remaining,
            flagged=counts.get(s.name, (0, 0))[0],
            deferred=counts.get(s.name, (0, 0))[1],
        )
        for s in session.scalars(select(SourceRow).order_by(SourceRow.name))
    ]
    return StoreStatus(
        last_run=_run_dict(last) if last else None,
        last_finished_run=_run_dict(finished[0]) if finished else None,
        lease=current_holder(session),
        sources=sources,
        failures_in_a_row=failures,
    )


def _run_dict(row: RunRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "holder": row.holder,
        "result": row.result,
        "summary": row.summary,
    }
