"""The flagging bot's executor: the one place that writes to trackers.

`prepare()` builds the plan (the same call for `bmmsync plan` and `bmmsync apply`);
`execute()` carries it out. Dry run is simply not calling `execute()`.

Crash safety: an intent row goes to the audit log (committed) before each write (the intents
of a chunk of writes at once, `CHUNK`), the outcome and the flag memory after it (committed).
A comment is created only after looking for ours by its marker (unless the ticket's fresh
read showed no comment of ours), so a rerun after a crash at any point edits the comment the
crashed run posted instead of posting a second one: effects exactly once, attempts at least
once.
Per-write failures are recorded (audit log and stats) and the other writes go on; the ticket
keeps its place at the front of the queue, so the next run converges.

One writer: a chunk's intents are recorded in the same transaction as the run lease's fence
check (`Fence.check`), and each later call of the chunk is fenced by the transaction that
records the outcome before it, so a process that lost the lease stops before its next write.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy.orm import Session

from bmmsync.bot.comments import CommentRenderer, CommentSettings, Markup, fallback_body
from bmmsync.bot.planner import (
    Action,
    EscalationPolicy,
    FlagPlan,
    FlagPolicy,
    FlagState,
    Subject,
    Write,
    after_write,
    on_seen,
    on_settle,
    plan_flags,
)
from bmmsync.checking import Judgement, judge_store
from bmmsync.config.settings import Config
from bmmsync.domain import Ticket
from bmmsync.errors import LeaseLost
from bmmsync.store.audit_repo import (
    DONE,
    FAILED,
    INTERRUPTED,
    mark_interrupted,
    open_intents,
    record_intents,
    record_outcomes,
)
from bmmsync.store.database import Store
from bmmsync.store.flag_repo import Ident, load_flags, mirror_tickets, save_flags
from bmmsync.sync import connector_options
from connectors.base import CommentTooLong, Connector
from connectors.registry import ConnectorFactory, connector_for

log = logging.getLogger("bmmsync.flagging")

MARKER = "trace-flag"  # the connector hides it in our comment; one comment per ticket
LABEL_COLOR = "d93f0b"
LABEL_DESCRIPTION = "bmmsync: this item does not trace to a strategic motivator"
ENSURE_LABEL = "ensure-label"
FEW_TICKETS = 20_000
"""Up to this many judged tickets, `prepare` reads their flag rows by key, not all of them."""


class Fence(Protocol):
    """The run lease as the executor sees it (`bmmsync.service.lease.RunLease`)."""

    def check(self, session: Session) -> None:
        """Raise `LeaseLost` unless the lease is still ours; called in the intent's
        transaction."""

    def sleep(self, seconds: float) -> None:
        """Wait (rate limits, write throttling); raise `LeaseLost` if the lease goes."""


def flag_policy(config: Config) -> FlagPolicy:
    flagging = config.flagging
    escalation = None
    if flagging.escalation is not None:
        escalation = EscalationPolicy(
            label=flagging.escalation.label,
            state=flagging.escalation.state,
            close=flagging.escalation.close,
        )
    return FlagPolicy(
        label=flagging.label,
        comment=flagging.comment,
        max_writes=flagging.max_writes_per_run,
        source_caps={
            s.name: s.max_writes_per_run for s in config.sources if s.max_writes_per_run is not None
        },
        escalate_after=flagging.escalate_after,
        escalation=escalation,
    )


@dataclass
class Prepared:
    """A plan and what executing it needs (connectors, the flag memory it was built from)."""

    plan: FlagPlan
    flags: dict[Ident, FlagState]
    connectors: dict[str, Connector]
    now: datetime
    unavailable: dict[str, str] = field(default_factory=dict)  # source -> why, left alone


def prepare(
    config: Config,
    store: Store,
    *,
    now: datetime | None = None,
    factory: ConnectorFactory = connector_for,
    judgement: Judgement | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Prepared:
    """Judge the store (unless given its `judgement`) and plan the writes. Reads only
    (trackers are not called, except a Jira source with no `deployment` set, which is asked
    once which markup it takes). `sleep` is what the connectors' waits will use."""
    now = now or datetime.now(UTC)
    options = connector_options(config, sleep=sleep)
    connectors: dict[str, Connector] = {}
    markups: dict[str, Markup] = {}
    unavailable: dict[str, str] = {}
    for src in config.sources:
        try:  # one source that cannot be reached leaves the others to the bot
            conn = factory(src, options)
            markups[src.name] = conn.comment_format  # may ask the tracker (Jira deployment)
            connectors[src.name] = conn
        except Exception as exc:
            unavailable[src.name] = _describe(exc)
            log.warning("source %s unavailable to the bot: %s", src.name, unavailable[src.name])
    with store.session() as session:
        if judgement is None:
            judgement = judge_store(session, config.mapping.to_rules(), now.date())
        tickets = judgement.tickets
        # A few judged tickets (an incremental run, a webhook batch): read only their flags.
        few = len(tickets) <= FEW_TICKETS
        flags = load_flags(session, {(t.source, t.key) for t in tickets} if few else None)
        _recover_interrupted_labels(session, config.flagging.label, judgement.tickets, flags)
    settings = CommentSettings(
        label=config.flagging.label,
        links=tuple((link.title, str(link.url)) for link in config.flagging.links),
        contacts=tuple(config.flagging.contacts),
        exempt_label=next(iter(config.mapping.exempt_labels), None),
    )
    renderer = CommentRenderer(judgement.index, settings, markups, config.flagging.template_text())
    subjects = (
        Subject(verdict, ticket, flags.get((verdict.source, verdict.key)))
        for verdict, ticket in zip(judgement.verdicts, judgement.tickets, strict=True)
        if verdict.source in connectors  # a source gone from the config is left alone
    )
    plan = plan_flags(subjects, flag_policy(config), renderer, now)
    return Prepared(plan, flags, connectors, now, unavailable)


def _recover_interrupted_labels(
    session: Session, label: str, tickets: list[Ticket], flags: dict[Ident, FlagState]
) -> None:
    """A run killed between adding the flag label and recording it left an open intent: if
    the tracker now shows the label, it is ours (so bmmsync removes it once the trace holds)."""
    intents = {(source, key): at for source, key, at in open_intents(session, "add-label")}
    if not intents:
        return
    wanted = label.casefold()
    for ticket in tickets:
        at = intents.get((ticket.source, ticket.key))
        if at is not None and any(lbl.casefold() == wanted for lbl in ticket.labels):
            flag = flags.get((ticket.source, ticket.key)) or FlagState(first_seen=at)
            flags[(ticket.source, ticket.key)] = replace(
                flag, label_added=True, flagged_at=flag.flagged_at or at
            )


@dataclass
class ApplyStats:
    """What a run of the bot did; the CLI prints it, the service stores it with the run."""

    run_id: str
    planned: int = 0
    scheduled: int = 0
    done: int = 0
    failed: int = 0
    deferred: int = 0
    broken: int = 0
    restored: int = 0
    budget: int = 0
    lost_lease: bool = False
    by_action: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # sources left alone this run

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "planned": self.planned,
            "scheduled": self.scheduled,
            "done": self.done,
            "failed": self.failed,
            "deferred": self.deferred,
            "broken": self.broken,
            "restored": self.restored,
            "budget": self.budget,
            "lost_lease": self.lost_lease,
            "by_action": dict(self.by_action),
            "errors": list(self.errors),
            "unavailable": list(self.unavailable),
        }

    def summary_line(self) -> str:
        return (
            f"writes planned={self.planned} done={self.done} failed={self.failed} "
            f"deferred={self.deferred} (budget {self.budget}); "
            f"{self.broken} broken, {self.restored} restored"
        )


@dataclass
class _Outcome:
    result: str
    response_id: str | None = None
    comment_id: str | None = None


@dataclass
class _Call:
    """One tracker call of a chunk: a planned write, or the flag label's creation (`write`
    None), with its audit row and what came of it."""

    source: str
    key: str
    action: str
    do: Callable[[], _Outcome]
    write: Write | None = None
    audit_id: int = 0
    outcome: _Outcome | None = None
    error: Exception | None = None


CHUNK = 50
"""Writes whose intents are recorded in one transaction, with the fence check; each outcome
is recorded after its call in the transaction that checks the fence for the next call."""


class _Executor:
    def __init__(
        self, prepared: Prepared, store: Store, run_id: str, label: str, fence: Fence
    ) -> None:
        self.prepared = prepared
        self.store = store
        self.fence = fence
        self.run_id = run_id
        self.label = label
        self.ensured: set[tuple[str, str]] = set()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def calls(self, writes: Sequence[Write]) -> list[_Call]:
        """The chunk's calls in order: before a write adding the flag label, the label's
        creation (once per project and run)."""
        calls = []
        for write in writes:
            conn = self.prepared.connectors[write.source]
            where = (write.source, write.project)
            if write.action is Action.ADD_LABEL and write.project and where not in self.ensured:
                self.ensured.add(where)
                ensure = partial(self.ensure_label, conn, write.project)
                calls.append(_Call(write.source, write.project, ENSURE_LABEL, ensure))
            do = partial(self.perform, conn, write)
            calls.append(_Call(write.source, write.key, write.action.value, do, write))
        return calls

    def record_intents(self, calls: list[_Call]) -> None:
        """Every intent of the chunk committed, with the fence check, before any call.
        Raises `LeaseLost` (nothing written, nothing recorded) when the lease is not ours."""
        with self.store.session() as session:
            self.fence.check(session)
            intents = [(c.source, c.key, c.action) for c in calls]
            ids = record_intents(session, self.run_id, intents, self.now())
        for call, audit_id in zip(calls, ids, strict=True):
            call.audit_id = audit_id

    def record_outcome(
        self, call: _Call, memory: dict[Ident, FlagState], now: datetime, fence_next: bool
    ) -> LeaseLost | None:
        """One transaction right after the call: its outcome and what the write changed (the
        flag memory, the mirrored ticket), so a write is never marked done while its effect
        is forgotten; and, when another call follows, the fence for it (returned when the
        lease is lost: the outcome is committed all the same)."""
        at = self.now()
        with self.store.session() as session:
            if call.outcome is None:
                failed = _describe(call.error) if call.error is not None else ""
                record_outcomes(session, [(call.audit_id, FAILED, failed, None)], at)
            else:
                done = (call.audit_id, DONE, call.outcome.result, call.outcome.response_id)
                record_outcomes(session, [done], at)
                write = call.write
                if write is not None:
                    state = after_write(
                        memory.get(write.ticket), write, at, call.outcome.comment_id
                    )
                    memory[write.ticket] = state
                    save_flags(session, [(write.ticket, state)], now)
                    mirror_tickets(session, [(write.ticket, self.mirror(write))])
            if fence_next:
                try:
                    self.fence.check(session)
                except LeaseLost as exc:
                    return exc
        return None

    def ensure_label(self, conn: Connector, project: str) -> _Outcome:
        """Create the flag label with colour and description; if the token may not, adding
        it may still work (trackers create labels on use)."""
        conn.ensure_label(project, self.label, LABEL_COLOR, LABEL_DESCRIPTION)
        return _Outcome(f"label {self.label!r} in {project}")

    def perform(self, conn: Connector, write: Write) -> _Outcome:
        key, action = write.key, write.action
        if action in (Action.ADD_LABEL, Action.REMOVE_LABEL, Action.REMOVE_ESCALATION_LABEL):
            assert write.label is not None
            if action is Action.ADD_LABEL:
                conn.add_label(key, write.label)
            else:
                conn.remove_label(key, write.label)
            return _Outcome(f"{action.value} {write.label!r}")
        if action is Action.ESCALATE:
            steps = []
            if write.label:
                conn.add_label(key, write.label)
                steps.append(f"label {write.label!r}")
            if write.state:
                conn.transition(key, write.state)
                steps.append(f"state {write.state!r}")
            if write.close_reason:
                conn.close(key, write.close_reason)
                steps.append(f"closed ({write.close_reason})")
            return _Outcome("escalated: " + ", ".join(steps))
        return self.comment(conn, write)

    def comment(self, conn: Connector, write: Write) -> _Outcome:
        """Create or edit our one comment; a body over the tracker's limit is replaced by a
        short one, so the ticket still converges."""
        assert write.body is not None
        try:
            return self.put_comment(conn, write, write.body, "")
        except CommentTooLong as exc:
            short = fallback_body(conn.comment_format, write.reason, write.detail, self.label)
            note = f" (shortened: {exc.size} > {exc.limit} characters)"
            return self.put_comment(conn, write, short, note)

    def put_comment(self, conn: Connector, write: Write, body: Any, note: str) -> _Outcome:
        """The marker finds our comment when the stored id is lost (a crash after posting)
        or stale (a human deleted it): never a second comment."""
        key = write.key
        if write.comment_id is not None:
            try:
                conn.update_comment(key, write.comment_id, body, MARKER)
                return _Outcome(f"edited comment{note}", write.comment_id, write.comment_id)
            except CommentTooLong:
                raise
            except Exception:
                found = conn.find_comment(key, MARKER)
                if found is not None and found.id == write.comment_id:
                    raise  # our comment is there: the tracker refused the edit itself
        else:
            found = conn.find_comment(key, MARKER)
        if found is not None:
            conn.update_comment(key, found.id, body, MARKER)
            return _Outcome(f"edited comment found by its marker{note}", found.id, found.id)
        ref = conn.create_comment(key, body, MARKER)
        return _Outcome(f"created comment{note}", ref.id, ref.id)

    def mirror(self, write: Write) -> dict[str, Any]:
        action = write.action
        if action is Action.ADD_LABEL:
            return {"add_label": write.label}
        if action in (Action.REMOVE_LABEL, Action.REMOVE_ESCALATION_LABEL):
            return {"remove_label": write.label}
        if action is Action.ESCALATE:
            changes: dict[str, Any] = {"add_label": write.label}
            if write.state:
                changes["state"] = write.state
            if write.close_reason:
                changes.update(state="closed", closed=True)
            return changes
        return {}


def execute(
    prepared: Prepared,
    store: Store,
    *,
    label: str,
    fence: Fence,
    run_id: str | None = None,
    stop: threading.Event | None = None,
) -> ApplyStats:
    """Carry out `prepared.plan` in order, each write fenced by the run lease; never raises
    for a failing write.

    Chunk by chunk (`CHUNK` writes): the intents in one transaction with the fence check,
    then each call followed by one transaction with its outcome, what it changed (the flag
    memory, the mirrored ticket) and the fence check for the next call: one transaction per
    write instead of two. An intent is durable before its call and an outcome before the
    next call, so a crash leaves at most the write in flight to redo (plus open intents of
    calls not made, which the next run treats as a crash mid-write).

    Writes not reached because `stop` was set, or because the lease was lost
    (`stats.lost_lease`), count as deferred (first next run)."""
    plan, now = prepared.plan, prepared.now
    run = _Executor(prepared, store, run_id or uuid.uuid4().hex[:12], label, fence)
    stats = ApplyStats(
        run.run_id,
        planned=plan.stats.planned,
        scheduled=plan.stats.scheduled,
        deferred=plan.stats.deferred,
        broken=plan.stats.broken,
        restored=plan.stats.restored,
        budget=plan.stats.budget,
        errors=[f"source {name}: {why}" for name, why in prepared.unavailable.items()],
        unavailable=sorted(prepared.unavailable),
    )
    memory = {
        (s.source, s.key): on_seen(prepared.flags.get((s.source, s.key)), s, now) for s in plan.seen
    }
    with store.session() as session:
        mark_interrupted(session, run.run_id)
        save_flags(session, memory.items(), now)
    pending: set[Ident] = {w.ticket for w in plan.deferred}
    for start in range(0, len(plan.writes), CHUNK):
        if stop is not None and stop.is_set():
            rest = plan.writes[start:]
            stats.deferred += len(rest)
            pending.update(w.ticket for w in rest)
            break
        calls = run.calls(plan.writes[start : start + CHUNK])
        try:
            run.record_intents(calls)
        except LeaseLost as exc:
            _lost(stats, pending, plan.writes[start:], exc, run.run_id)
            break
        lost = _call_all(run, calls, memory, now, stop)
        for call in calls:
            write = call.write
            if write is None:
                if call.error is not None:
                    log.warning("could not create label in %s: %s", call.key, _describe(call.error))
            elif call.outcome is not None:
                stats.done += 1
                stats.by_action[write.action.value] += 1
            elif call.error is not None:
                stats.failed += 1
                stats.errors.append(
                    f"{write.source} {write.key} {write.action.value}: {_describe(call.error)}"
                )
                pending.add(write.ticket)
                log.warning("write failed: %s", stats.errors[-1])
            elif lost is None:  # stopped
                stats.deferred += 1
                pending.add(write.ticket)
        if lost is not None:
            reached = [c.write for c in calls if c.write and (c.outcome or c.error)]
            _lost(stats, pending, plan.writes[start + len(reached) :], lost, run.run_id)
            break
    with store.session() as session:
        save_flags(
            session,
            (
                (
                    (s.source, s.key),
                    on_settle(
                        memory[(s.source, s.key)], s, run.now(), (s.source, s.key) in pending
                    ),
                )
                for s in plan.seen
            ),
            now,
        )
    log.info("flagging run %s: %s", run.run_id, stats.summary_line())
    return stats


def _call_all(
    run: _Executor,
    calls: list[_Call],
    memory: dict[Ident, FlagState],
    now: datetime,
    stop: threading.Event | None,
) -> LeaseLost | None:
    """Make the chunk's calls in order, each outcome recorded before the next call (in the
    transaction that checks the fence for it), until `stop` is set or the lease is lost
    (returned). A failing call keeps its error and the others go on; calls not made are
    recorded as interrupted."""
    lost: LeaseLost | None = None
    for index, call in enumerate(calls):
        if stop is not None and stop.is_set():
            break
        try:
            call.outcome = call.do()
        except LeaseLost as exc:  # a wait inside the call saw the lease go: not made
            lost = exc
            break
        except Exception as exc:
            call.error = exc
        lost = run.record_outcome(call, memory, now, fence_next=index < len(calls) - 1)
        if lost is not None:
            break
    rest = [c for c in calls if c.outcome is None and c.error is None]
    if rest:
        with run.store.session() as session:
            note = "not attempted (the run stopped)"
            record_outcomes(
                session, [(c.audit_id, INTERRUPTED, note, None) for c in rest], run.now()
            )
    return lost


def _lost(
    stats: ApplyStats, pending: set[Ident], rest: Sequence[Write], exc: LeaseLost, run_id: str
) -> None:
    stats.lost_lease = True
    stats.deferred += len(rest)
    stats.errors.append(str(exc))
    pending.update(w.ticket for w in rest)
    log.error("flagging run %s stopped: %s", run_id, exc)


def run_flagging(
    config: Config,
    store: Store,
    *,
    fence: Fence,
    stop: threading.Event | None = None,
    run_id: str | None = None,
    factory: ConnectorFactory = connector_for,
    judgement: Judgement | None = None,
) -> ApplyStats:
    """Plan and apply once under the run lease (`fence`). Returns the stats."""
    prepared = prepare(config, store, factory=factory, judgement=judgement, sleep=fence.sleep)
    return execute(
        prepared, store, label=config.flagging.label, fence=fence, run_id=run_id, stop=stop
    )


def apply_step(
    stop: threading.Event | None = None,
) -> Callable[[Config, Store, Any, Judgement, Fence], None]:
    """The service's flagging step (`service.run_once(apply_writes=...)`): the stats, with
    each failed write, go into the run report. A refused write does not fail the run: it is
    audited and retried next run. A lost lease is raised, so the run ends `lost-lease`."""

    def step(config: Config, store: Store, report: Any, judgement: Judgement, fence: Fence) -> None:
        stats = run_flagging(
            config, store, fence=fence, stop=stop, run_id=report.run_id, judgement=judgement
        )
        report.flagging = stats.as_dict()
        if stats.lost_lease:
            raise LeaseLost(stats.errors[-1])

    return step


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
