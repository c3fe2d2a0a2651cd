"""Judging the store: load the map and the tickets in bulk, judge in memory, record verdicts.

The one path from stored data to verdicts, shared by `check`, `explain`, `report`, the bot's
planner and the service. No per-ticket queries: everything is read in streamed batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from bmmsync.domain import Model, Ticket
from bmmsync.store.map_repo import load_model
from bmmsync.store.models import TraceLinkRow, VerdictRow
from bmmsync.store.ticket_repo import iter_tickets
from bmmsync.store.upsert import BATCH_ROWS, bulk_upsert
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import Verdict, judge
from bmmsync.trace.rules import MappingRules


@dataclass
class Judgement:
    """The map, the tickets and their verdicts (same order as `tickets`)."""

    model: Model
    index: MapIndex
    tickets: list[Ticket]
    verdicts: list[Verdict]


def judge_store(session: Session, rules: MappingRules, today: date) -> Judgement:
    """Judge every stored ticket (tickets marked gone are left out) against the stored map."""
    model = load_model(session)
    index = MapIndex(model)
    tickets = list(iter_tickets(session))
    return Judgement(model, index, tickets, judge(tickets, index, rules, today))


def _verdict_row(v: Verdict, now: datetime) -> dict[str, Any]:
    primary = v.primary
    return {
        "source": v.source,
        "key": v.key,
        "in_scope": v.in_scope,
        "scope_reason": v.scope_reason,
        "traced": v.traced,
        "reason": primary.reason if primary else None,
        "severity": primary.severity.value if primary else None,
        "detail": primary.detail if primary else "",
        "suggestion": primary.suggestion if primary else "",
        "findings": [
            {
                "reason": f.reason,
                "severity": f.severity.value,
                "detail": f.detail,
                "suggestion": f.suggestion,
            }
            for f in v.findings
        ],
        "checked_at": now,
    }


def record_verdicts(
    session: Session, verdicts: Iterable[Verdict], now: datetime, *, replace_all: bool
) -> None:
    """Store verdicts and trace links in bulk. `replace_all` drops rows of tickets not judged
    this time (a full check); otherwise only the judged tickets' rows are replaced."""
    verdicts = list(verdicts)
    if replace_all:
        session.execute(delete(VerdictRow))
        session.execute(delete(TraceLinkRow))
    else:
        idents = [(v.source, v.key) for v in verdicts]
        for start in range(0, len(idents), BATCH_ROWS):
            chunk = idents[start : start + BATCH_ROWS]
            for table in (VerdictRow, TraceLinkRow):
                session.execute(delete(table).where(tuple_(table.source, table.key).in_(chunk)))
    bulk_upsert(session, VerdictRow, (_verdict_row(v, now) for v in verdicts))
    bulk_upsert(
        session,
        TraceLinkRow,
        (
            {
                "source": v.source,
                "key": v.key,
                "capability": link.capability,
                "via": link.via.value,
                "origin": link.origin,
            }
            for v in verdicts
            for link in {(link.capability): link for link in v.links}.values()
        ),
    )


def summarise(judgement: Judgement) -> dict[str, Any]:
    """Counts for `check` and the run summary: in scope, traced, tickets by reason."""
    verdicts = judgement.verdicts
    in_scope = [v for v in verdicts if v.in_scope]
    traced = sum(1 for v in in_scope if v.traced)
    by_reason = Counter(f.reason for v in in_scope for f in v.findings)
    severity = {f.reason: f.severity.value for v in in_scope for f in v.findings}
    return {
        "tickets": len(verdicts),
        "in_scope": len(in_scope),
        "out_of_scope": len(verdicts) - len(in_scope),
        "traced": traced,
        "traceability": round(100 * traced / len(in_scope), 1) if in_scope else None,
        "by_reason": [
            {"reason": r, "severity": severity[r], "tickets": n}
            for r, n in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


def stored_verdicts(session: Session) -> list[VerdictRow]:
    return list(session.scalars(select(VerdictRow).order_by(VerdictRow.source, VerdictRow.key)))
