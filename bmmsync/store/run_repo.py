"""The runs table as the service's own memory: which run checked the whole store last, under
which rules, and whether the run before this one finished its check and its writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bmmsync.store.models import RunRow


def previous_run(session: Session, run_id: str) -> RunRow | None:
    """The newest run other than `run_id` (a crashed run stays `running`)."""
    query = select(RunRow).where(RunRow.id != run_id).order_by(RunRow.started_at.desc())
    return session.scalars(query.limit(1)).first()


def last_full_check(session: Session, since: datetime) -> RunRow | None:
    """The newest run started at or after `since` whose full check completed."""
    kind = RunRow.summary[("check", "kind")].as_string()
    query = (
        select(RunRow)
        .where(RunRow.started_at >= since, kind == "full")
        .order_by(RunRow.started_at.desc())
    )
    return session.scalars(query.limit(1)).first()
