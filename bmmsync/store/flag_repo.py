"""The bot's memory per ticket (flag rows), and mirroring its own writes on stored tickets."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bmmsync.bot.planner import FlagState
from bmmsync.store.audit_repo import open_intents
from bmmsync.store.models import FlagRow, TicketRow, VerdictRow
from bmmsync.store.upsert import bulk_upsert, key_batches

Ident = tuple[str, str]


def load_flags(session: Session, only: Collection[Ident] | None = None) -> dict[Ident, FlagState]:
    """Every flag row (or those of the tickets `only` names) as the planner's `FlagState`,
    by (source, key)."""
    out: dict[Ident, FlagState] = {}
    if only is None:
        rows: Iterable[FlagRow] = session.scalars(select(FlagRow))
    else:
        rows = _flag_rows(session, only)
    for row in rows:
        out[(row.source, row.key)] = FlagState(
            reason=row.reason,
            detail=row.detail,
            first_seen=row.first_seen,
            flagged_at=row.flagged_at,
            label_added=row.label_added,
            comment_id=row.comment_id,
            comment_digest=row.comment_digest,
            cleared_at=row.cleared_at,
            escalated_at=row.escalated_at,
            deferred=row.deferred,
        )
    return out


def _flag_rows(session: Session, idents: Collection[Ident]) -> Iterator[FlagRow]:
    for source, chunk in key_batches(idents):
        yield from session.scalars(
            select(FlagRow).where(FlagRow.source == source, FlagRow.key.in_(chunk))
        )


def unsettled_flags(
    session: Session, now: datetime, escalate_after: timedelta | None
) -> set[Ident]:
    """Tickets whose flag still owes the tracker something whatever their verdict: writes
    deferred (by the budget, a failure or a stop), a flag never written yet, an escalation
    due by `now`, or a write with an intent and no outcome (a run stopped mid-write). An
    incremental run plans these with what changed, so it forgets nothing a full one does."""
    owed = FlagRow.deferred.is_(True) | (
        FlagRow.cleared_at.is_(None) & FlagRow.flagged_at.is_(None)
    )
    if escalate_after is not None:
        owed = owed | (
            FlagRow.cleared_at.is_(None)
            & FlagRow.escalated_at.is_(None)
            & (FlagRow.flagged_at <= now - escalate_after)
        )
    found = {
        (source, key)
        for source, key in session.execute(select(FlagRow.source, FlagRow.key).where(owed))
    }
    found.update((source, key) for source, key, _at in open_intents(session))
    return found


def _row(ident: Ident, state: FlagState, now: datetime) -> dict[str, Any]:
    row = asdict(state)
    row["first_seen"] = state.first_seen or now
    return {"source": ident[0], "key": ident[1], "last_seen": now, **row}


def save_flags(session: Session, states: Iterable[tuple[Ident, FlagState]], now: datetime) -> None:
    """Upsert flag rows in bulk (idempotent), and copy their dates onto the verdict rows."""
    states = list(states)
    bulk_upsert(session, FlagRow, (_row(ident, state, now) for ident, state in states))
    copy_flag_dates(session, [ident for ident, _ in states])


def copy_flag_dates(session: Session, idents: Collection[Ident] | None = None) -> None:
    """Set `VerdictRow.flagged_since` (/review's sort key) from the flags of `idents`: the
    start of the active flag, else None. `None` means every verdict row still without a date
    (a full check's new rows): one statement sets the flagged ones."""
    active = (FlagRow.source == VerdictRow.source) & (FlagRow.key == VerdictRow.key)
    active &= FlagRow.flagged_at.is_not(None) & FlagRow.cleared_at.is_(None)
    if idents is None:
        undated = active & VerdictRow.flagged_since.is_(None)
        session.execute(update(VerdictRow).where(undated).values(flagged_since=FlagRow.flagged_at))
        return
    since = select(FlagRow.flagged_at).where(active).scalar_subquery()
    for source, chunk in key_batches(idents):
        session.execute(
            update(VerdictRow)
            .where(VerdictRow.source == source, VerdictRow.key.in_(chunk))
            .values(flagged_since=since)
        )


def mirror_tickets(session: Session, changes: Sequence[tuple[Ident, dict[str, Any]]]) -> None:
    """Record on the stored tickets what the bot just did on the tracker, so the next plan
    (before the next sync) sees it and does not repeat the write. `changes` are the writes in
    order, each `{"add_label": ..., "remove_label": ..., "state": ..., "closed": ...}` (any
    of them); the stored labels are read in one query per source and batch."""
    labels: dict[Ident, list[str]] = {}
    for source, chunk in key_batches(ident for ident, _ in changes):
        query = select(TicketRow.key, TicketRow.labels).where(
            TicketRow.source == source, TicketRow.key.in_(chunk)
        )
        labels.update(((source, key), list(found or [])) for key, found in session.execute(query))
    values: dict[Ident, dict[str, Any]] = {}
    for ident, change in changes:
        if ident not in labels:
            continue
        now = labels[ident]
        add, remove = change.get("add_label"), change.get("remove_label")
        if add and add.casefold() not in {x.casefold() for x in now}:
            now.append(add)
        if remove:
            now[:] = [x for x in now if x.casefold() != remove.casefold()]
        row = values.setdefault(ident, {})
        row["labels"] = list(now)
        row.update({k: change[k] for k in ("state", "closed") if change.get(k) is not None})
    for (source, key), row in values.items():
        session.execute(
            update(TicketRow).where(TicketRow.source == source, TicketRow.key == key).values(**row)
        )
