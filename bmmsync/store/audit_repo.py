"""The audit log: an intent row before each tracker write, its outcome after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bmmsync.store.models import AuditRow

INTENT = "intent"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"


def record_intents(
    session: Session, run_id: str, intents: Sequence[tuple[str, str, str]], at: datetime
) -> list[int]:
    """Intent rows for (source, key, action) in one statement; their ids, in order."""
    if not intents:
        return []
    rows = [
        {"at": at, "run_id": run_id, "source": s, "key": k, "action": a, "status": INTENT}
        for s, k, a in intents
    ]
    stmt = insert(AuditRow).values(result="").returning(AuditRow.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def record_outcomes(
    session: Session,
    outcomes: Sequence[tuple[int, str, str, str | None]],
    at: datetime,
) -> None:
    """(audit id, status, result, response id) for many intents in one statement."""
    if outcomes:
        session.execute(
            update(AuditRow),
            [
                {"id": i, "status": st, "result": r[:2000], "response_id": rid, "at": at}
                for i, st, r, rid in outcomes
            ],
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
