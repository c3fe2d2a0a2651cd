"""Reading stored verdicts whole: the compact rows (`VerdictRow`) joined to their problems,
with the implied verdict of a stored ticket that has no row (in scope and traced)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bmmsync.store.models import ProblemRow, TicketRow, VerdictRow


@dataclass(frozen=True)
class StoredVerdict:
    """One ticket's stored verdict; `checked_at` is None when it is implied by no row."""

    source: str
    key: str
    in_scope: bool
    scope_reason: str | None
    traced: bool
    reason: str | None
    severity: str | None
    detail: str
    suggestion: str
    findings: list[dict[str, Any]]
    checked_at: datetime | None


def stored_verdicts(session: Session) -> list[StoredVerdict]:
    """The verdict of every stored ticket not gone, by (source, key)."""
    query = (
        select(
            TicketRow.source,
            TicketRow.key,
            VerdictRow.in_scope,
            VerdictRow.scope_reason,
            VerdictRow.traced,
            VerdictRow.reason,
            ProblemRow.severity,
            ProblemRow.detail,
            ProblemRow.suggestion,
            ProblemRow.findings,
            VerdictRow.checked_at,
        )
        .outerjoin(
            VerdictRow, and_(VerdictRow.source == TicketRow.source, VerdictRow.key == TicketRow.key)
        )
        .outerjoin(ProblemRow, ProblemRow.id == VerdictRow.problem_id)
        .where(TicketRow.gone_at.is_(None))
        .order_by(TicketRow.source, TicketRow.key)
    )
    out = []
    for row in session.execute(query):
        implied = row.checked_at is None  # no row: in scope and traced
        out.append(
            StoredVerdict(
                source=row.source,
                key=row.key,
                in_scope=True if implied else row.in_scope,
                scope_reason=row.scope_reason,
                traced=True if implied else row.traced,
                reason=row.reason,
                severity=row.severity,
                detail=row.detail or "",
                suggestion=row.suggestion or "",
                findings=row.findings or [],
                checked_at=row.checked_at,
            )
        )
    return out
