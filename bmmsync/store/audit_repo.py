"""The audit log: an intent row before each tracker write, its outcome after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bmmsync.store.models import AuditRow

INTENT = "intent"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"


def record_intent(
    session: Session, run_id: str, source: str, key: str, action: str, at: datetime
) -> int:
    row = AuditRow(
        at=at, run_id=run_id, source=source, key=key, action=action, status=INTENT, result=""
    )
    session.add(row)
    session.flush()
    return row.id


def record_outcome(
    session: Session,
    audit_id: int,
    status: str,
    result: str,
    response_id: str | None,
    at: datetime,
) -> None:
    session.execute(
        update(AuditRow)
        .where(AuditRow.id == audit_id)
        .values(status=status, result=result[:2000], response_id=response_id, at=at)
    )


def open_intents(session: Session, action: str | None = None) -> list[tuple[str, str, datetime]]:
    """(source, key, at) of `action` intents (any action when None) with no outcome: a run
    stopped mid-write, and only the tracker knows whether the write happened."""
    query = select(AuditRow.source, AuditRow.key, AuditRow.at).where(AuditRow.status == INTENT)
    if action is not None:
        query = query.where(AuditRow.action == action)
    rows = session.execute(query)
    return [(r.source, r.key, r.at) for r in rows]


def mark_interrupted(session: Session, run_id: str) -> int:
    """Intents of earlier runs that never got an outcome (a crash): say so. Returns how many."""
    result = session.execute(
        update(AuditRow)
        .where(AuditRow.status == INTENT, AuditRow.run_id != run_id)
        .values(status=INTERRUPTED, result="no outcome recorded (the run stopped); retried")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_audit(
    session: Session, key: str | None = None, source: str | None = None, limit: int = 200
) -> list[AuditRow]:
    """Newest first."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if key is not None:
        query = query.where(AuditRow.key == key)
    if source is not None:
        query = query.where(AuditRow.source == source)
    return list(session.scalars(query))
