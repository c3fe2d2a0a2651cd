"""What a scheduled run judges: the whole store (a full check) or only what can have changed.

An incremental run judges again the tickets the sync stored as new, changed or gone, those a
map change (or a review date passed since the previous run) reaches, and every ticket whose
flag still owes the tracker a write; each with its descendants. Everything else has the
verdict and the flag state a full check would give it, so nothing is forgotten: per-project
suggestions and the dashboard's figures wait for the next full check, nothing else does.

A run checks the whole store when asked (start-up, `--full`), when `full_check_every` has
passed since the last full check or no full check was made under the current rules, when
the run before did not finish its check and its writes (a crash, a lost lease, a stop, a
source the bot could not reach: what it synced may be unjudged, what it owed unrecorded),
and when the map changed in a way no stored link bounds (`links_miss_map_change`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from bmmsync.checking import Judgement, TicketId, map_changed_tickets, recheck_judgement
from bmmsync.config.settings import Config
from bmmsync.domain import Model
from bmmsync.store.flag_repo import unsettled_flags
from bmmsync.store.map_repo import load_model
from bmmsync.store.run_repo import last_full_check, previous_run

FULL = "full"
INCREMENTAL = "incremental"


def rules_digest(config: Config) -> str:
    """Identifies what verdicts and plans depend on besides tickets and the map: the mapping
    rules and the flagging settings (comment template included). A change needs a full check."""
    parts = [
        config.mapping.model_dump_json(),
        config.flagging.model_dump_json(),
        config.flagging.template_text() or "",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CheckScope:
    """Full or incremental, and why; `since`: the day the previous run judged on."""

    kind: str
    why: str
    since: date | None = None


def choose_scope(
    session: Session,
    config: Config,
    run_id: str,
    now: datetime,
    *,
    map_unbounded: bool,
) -> CheckScope:
    """Incremental when the store shows that it suffices (see the module docstring)."""
    previous = previous_run(session, run_id)
    if previous is None:
        return CheckScope(FULL, "no earlier run")
    check = (previous.summary or {}).get("check") or {}
    if not check.get("settled"):
        return CheckScope(FULL, f"run {previous.id} did not finish its check and writes")
    last = last_full_check(session, now - config.schedule.full_check_every)
    if last is None:
        return CheckScope(FULL, "schedule.full_check_every has passed since the last full check")
    if (last.summary.get("check") or {}).get("rules") != rules_digest(config):
        return CheckScope(FULL, "the mapping or flagging rules changed since the last full check")
    if map_unbounded:
        return CheckScope(FULL, "the map changed names a bare label pattern may match")
    return CheckScope(INCREMENTAL, "what changed since run " + previous.id,
                      date.fromisoformat(check["today"]))  # fmt: skip


def incremental_judgement(
    session: Session,
    config: Config,
    now: datetime,
    since: date,
    before: Model,
    touched: set[TicketId],
) -> Judgement:
    """Judge again (and record) what can have changed since the previous run: `touched` by
    the sync, reached by the map change from `before` or by a review date passed since
    `since`, and every unsettled flag; the judgement of those, for the bot to plan."""
    today = now.date()
    model = load_model(session)  # once per run: the comparison and the judge share it
    changed = set(touched) | map_changed_tickets(session, today, before, since, model=model)
    flagging = config.flagging
    escalate_after = flagging.escalate_after if flagging.escalation is not None else None
    changed |= unsettled_flags(session, now, escalate_after)
    rules = config.mapping.to_rules()
    return recheck_judgement(session, rules, today, changed, now, model=model)
