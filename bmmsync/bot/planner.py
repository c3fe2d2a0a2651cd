"""The flagging bot's brain: from verdicts, tracker state and flag memory to budgeted writes.

Pure (stdlib, domain and trace types only): the same inputs always give the same plan, so
`bmmsync plan` shows exactly what `bmmsync apply` does, and only the executor
(`bmmsync.bot.flagging`) ever talks to a tracker.

The plan converges on one desired state per ticket:
- broken (in scope, an error finding): the flag label is on, our one comment says why;
- restored (flag still active, ticket now traced or exempt): the label bmmsync added is off,
  the same comment says the trace is restored;
- escalated (optional): broken and flagged for `escalate_after`.
A ticket already in its desired state yields no write (the comment is compared by digest).
Closed tickets and pull requests yield nothing: a closed ticket's labels are history.

Only ticket state, flag memory and `now` are used, never the ticket's `updated` time, so the
bot's own writes can never look like human activity or start a loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from bmmsync.domain import Ticket
from bmmsync.trace.judge import SCOPE_CLOSED, SCOPE_PULL_REQUEST, Verdict

CommentBody = str | dict[str, Any]
RESTORED = "restored"


class Action(StrEnum):
    ADD_LABEL = "add-label"
    CREATE_COMMENT = "create-comment"
    EDIT_COMMENT = "edit-comment"
    REMOVE_LABEL = "remove-label"
    RESTORE_COMMENT = "restore-comment"
    ESCALATE_LABEL = "escalate-label"
    REMOVE_ESCALATION_LABEL = "remove-escalation-label"
    ESCALATE = "escalate"


class Priority(IntEnum):
    """Budget order: newly broken tickets first, then restorations, edits, escalations."""

    NEW = 0
    RESTORE = 1
    EDIT = 2
    ESCALATE = 3


_ACTION_ORDER = {action: i for i, action in enumerate(Action)}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A comment body in the tracker's markup, and the digest that says "unchanged"."""

    body: CommentBody
    digest: str


@dataclass(frozen=True, slots=True)
class FlagState:
    """What the store remembers about the bot's effects on one ticket (see `FlagRow`)."""

    reason: str | None = None
    detail: str = ""
    first_seen: datetime | None = None
    flagged_at: datetime | None = None
    label_added: bool = False
    comment_id: str | None = None
    comment_digest: str | None = None
    cleared_at: datetime | None = None
    escalated_at: datetime | None = None
    deferred: bool = False

    @property
    def active(self) -> bool:
        """Flagged and not yet cleared: the bot owes this ticket a restoration when fixed."""
        return self.cleared_at is None and (
            self.flagged_at is not None or self.label_added or self.comment_id is not None
        )


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    label: str | None = None
    state: str | None = None
    close: bool = False
    close_reason: str = "not_planned"


@dataclass(frozen=True, slots=True)
class FlagPolicy:
    """The config's `flagging:` block as plain data."""

    label: str = "trace-broken"
    comment: bool = True
    max_writes: int = 50
    source_caps: Mapping[str, int] = field(default_factory=dict)
    escalate_after: timedelta | None = None
    escalation: EscalationPolicy | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """One ticket as the planner sees it: its verdict, its tracker state, its flag memory."""

    verdict: Verdict
    ticket: Ticket
    flag: FlagState | None = None


class Renderer(Protocol):
    """Renders the comment for a subject; `restored` selects the restored variant.

    Called only for tickets that need a comment, so the Jinja machinery stays outside this
    pure module (see `bmmsync.comments.CommentRenderer`).
    """

    def __call__(self, subject: Subject, *, restored: bool) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Write:
    """One intended tracker write. `reason`/`detail` say why (RESTORED when fixed)."""

    source: str
    key: str
    project: str
    action: Action
    priority: Priority
    reason: str
    detail: str = ""
    label: str | None = None
    body: CommentBody | None = None
    digest: str | None = None
    comment_id: str | None = None
    state: str | None = None
    close_reason: str | None = None
    was_deferred: bool = False
    age: datetime | None = None

    @property
    def ticket(self) -> tuple[str, str]:
        return (self.source, self.key)

    def summary(self) -> str:
        """One line for tables and logs (no comment body)."""
        parts = [self.action.value, self.label or "", self.state or "", self.comment_id or ""]
        if self.close_reason:
            parts.append(f"close ({self.close_reason})")
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "key": self.key,
            "action": self.action.value,
            "priority": self.priority.name.lower(),
            "reason": self.reason,
            "detail": self.detail,
            "label": self.label,
            "comment_id": self.comment_id,
            "state": self.state,
            "close_reason": self.close_reason,
            "digest": self.digest,
            "body": self.body,
            "was_deferred": self.was_deferred,
        }


@dataclass(frozen=True, slots=True)
class Seen:
    """A ticket's status this run, for the executor's bookkeeping (flag rows)."""

    source: str
    key: str
    broken: bool
    reason: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class PlanStats:
    broken: int
    restored: int
    planned: int
    scheduled: int
    deferred: int
    budget: int
    by_action: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "broken": self.broken,
            "restored": self.restored,
            "planned": self.planned,
            "scheduled": self.scheduled,
            "deferred": self.deferred,
            "budget": self.budget,
            "by_action": dict(self.by_action),
        }


@dataclass(frozen=True, slots=True)
class FlagPlan:
    """`writes` run in order this run; `deferred` wait for the next (they go first then)."""

    writes: tuple[Write, ...]
    deferred: tuple[Write, ...]
    seen: tuple[Seen, ...]
    stats: PlanStats


def _has(labels: Iterable[str], label: str) -> bool:
    """Trackers compare labels case-insensitively (GitHub) or exactly (Jira); be lenient."""
    wanted = label.casefold()
    return any(existing.casefold() == wanted for existing in labels)


def _broken_writes(
    subject: Subject, policy: FlagPolicy, render: Renderer, now: datetime
) -> list[Write]:
    verdict, ticket, flag = subject.verdict, subject.ticket, subject.flag or FlagState()
    primary = verdict.primary
    assert primary is not None
    # A ticket whose flag is still active is being kept in shape (edit); else it is news.
    base = Write(
        source=verdict.source,
        key=verdict.key,
        project=ticket.project,
        action=Action.ADD_LABEL,
        priority=Priority.EDIT if flag.active else Priority.NEW,
        reason=primary.reason,
        detail=primary.detail,
        was_deferred=flag.deferred,
        age=flag.first_seen or ticket.created,
    )
    writes: list[Write] = []
    if not _has(ticket.labels, policy.label):
        writes.append(replace(base, label=policy.label))
    if policy.comment:
        rendered = render(subject, restored=False)
        if flag.comment_id is None:
            writes.append(
                replace(
                    base, action=Action.CREATE_COMMENT, body=rendered.body, digest=rendered.digest
                )
            )
        elif flag.comment_digest != rendered.digest:
            writes.append(
                replace(
                    base,
                    action=Action.EDIT_COMMENT,
                    body=rendered.body,
                    digest=rendered.digest,
                    comment_id=flag.comment_id,
                )
            )
    writes.extend(
        _escalation_writes(subject, policy, now, replace(base, priority=Priority.ESCALATE))
    )
    return writes


def _escalation_writes(
    subject: Subject, policy: FlagPolicy, now: datetime, base: Write
) -> list[Write]:
    """Escalate once per break: only while `escalated_at` is unset and the flag is old enough."""
    flag, ticket, escalation = subject.flag, subject.ticket, policy.escalation
    if (
        escalation is None
        or policy.escalate_after is None
        or flag is None
        or flag.flagged_at is None
        or flag.escalated_at is not None
        or now - flag.flagged_at < policy.escalate_after
    ):
        return []
    # One write (one budget unit, one audit intent): its steps are idempotent, so a partly
    # done escalation is simply retried whole.
    label = (
        escalation.label if escalation.label and not _has(ticket.labels, escalation.label) else None
    )
    state = (
        escalation.state
        if escalation.state and ticket.state.casefold() != escalation.state.casefold()
        else None
    )
    close = escalation.close_reason if escalation.close and not ticket.closed else None
    if label is None and state is None and close is None:
        return []
    return [replace(base, action=Action.ESCALATE, label=label, state=state, close_reason=close)]


def _restore_writes(subject: Subject, policy: FlagPolicy, render: Renderer) -> list[Write]:
    verdict, ticket, flag = subject.verdict, subject.ticket, subject.flag
    assert flag is not None
    base = Write(
        source=verdict.source,
        key=verdict.key,
        project=ticket.project,
        action=Action.REMOVE_LABEL,
        priority=Priority.RESTORE,
        reason=RESTORED,
        detail=flag.reason or "",
        was_deferred=flag.deferred,
        age=flag.first_seen or ticket.created,
    )
    writes: list[Write] = []
    # Never remove a label bmmsync did not add: a human may have put it there on purpose.
    if flag.label_added and _has(ticket.labels, policy.label):
        writes.append(replace(base, label=policy.label))
    escalation = policy.escalation
    if (
        flag.escalated_at is not None
        and escalation is not None
        and escalation.label
        and _has(ticket.labels, escalation.label)
    ):
        writes.append(replace(base, action=Action.REMOVE_ESCALATION_LABEL, label=escalation.label))
    if flag.comment_id is not None:
        rendered = render(subject, restored=True)
        if flag.comment_digest != rendered.digest:
            writes.append(
                replace(
                    base,
                    action=Action.RESTORE_COMMENT,
                    body=rendered.body,
                    digest=rendered.digest,
                    comment_id=flag.comment_id,
                )
            )
    return writes


def _sort_key(write: Write) -> tuple[bool, int, float, str, str, int]:
    age = write.age.timestamp() if write.age is not None else float("inf")
    return (
        not write.was_deferred,
        write.priority,
        age,
        write.source,
        write.key,
        _ACTION_ORDER[write.action],
    )


def plan_flags(
    subjects: Iterable[Subject], policy: FlagPolicy, render: Renderer, now: datetime
) -> FlagPlan:
    """Every write needed to bring the trackers to the desired state, in budget order.

    Order: writes deferred last run first, then by priority (new, restore, edit, escalate),
    then oldest ticket first (first seen broken, else created), then source, key, action.
    The first `policy.max_writes` that also fit their source's cap are scheduled; the rest
    are deferred, never dropped, and counted in the stats.
    """
    wanted: list[Write] = []
    seen: list[Seen] = []
    broken = restored = 0
    for subject in subjects:
        verdict, flag = subject.verdict, subject.flag
        if verdict.scope_reason in (SCOPE_CLOSED, SCOPE_PULL_REQUEST):
            continue
        if verdict.in_scope and not verdict.traced:
            broken += 1
            primary = verdict.primary
            assert primary is not None
            seen.append(Seen(verdict.source, verdict.key, True, primary.reason, primary.detail))
            wanted.extend(_broken_writes(subject, policy, render, now))
        elif flag is not None and flag.cleared_at is None:
            seen.append(Seen(verdict.source, verdict.key, False, None, ""))
            if flag.active:
                restored += 1
                wanted.extend(_restore_writes(subject, policy, render))
    wanted.sort(key=_sort_key)

    left = policy.max_writes
    source_left = dict(policy.source_caps)
    scheduled: list[Write] = []
    deferred: list[Write] = []
    for write in wanted:
        cap = source_left.get(write.source)
        if left > 0 and (cap is None or cap > 0):
            scheduled.append(write)
            left -= 1
            if cap is not None:
                source_left[write.source] = cap - 1
        else:
            deferred.append(write)
    stats = PlanStats(
        broken=broken,
        restored=restored,
        planned=len(wanted),
        scheduled=len(scheduled),
        deferred=len(deferred),
        budget=policy.max_writes,
        by_action=Counter(w.action.value for w in scheduled),
    )
    return FlagPlan(tuple(scheduled), tuple(deferred), tuple(seen), stats)


# ---------------------------------------------------------------- what the executor records


def after_write(
    flag: FlagState | None, write: Write, now: datetime, comment_id: str | None = None
) -> FlagState:
    """The flag memory once `write` succeeded (`comment_id`: the comment it created/edited)."""
    flag = flag or FlagState(first_seen=now)
    action = write.action
    if action is Action.ADD_LABEL:
        return replace(flag, label_added=True, flagged_at=flag.flagged_at or now)
    if action in (Action.CREATE_COMMENT, Action.EDIT_COMMENT):
        return replace(
            flag,
            comment_id=comment_id or write.comment_id,
            comment_digest=write.digest,
            flagged_at=flag.flagged_at or now,
        )
    if action is Action.REMOVE_LABEL:
        return replace(flag, label_added=False)
    if action is Action.RESTORE_COMMENT:
        return replace(flag, comment_id=comment_id or write.comment_id, comment_digest=write.digest)
    if action is Action.ESCALATE:
        return replace(flag, escalated_at=now)
    return flag  # REMOVE_ESCALATION_LABEL: settled with the rest of the restoration


def on_seen(flag: FlagState | None, seen: Seen, now: datetime) -> FlagState:
    """The flag memory as a run starts on the ticket: why it is broken, since when.

    A ticket broken again after a restoration starts a new flag but keeps its comment."""
    flag = flag or FlagState(first_seen=now)
    if not seen.broken:
        return flag
    if flag.cleared_at is not None:
        flag = replace(flag, first_seen=now, cleared_at=None, flagged_at=None, escalated_at=None)
    return replace(flag, reason=seen.reason, detail=seen.detail, first_seen=flag.first_seen or now)


def on_settle(flag: FlagState, seen: Seen, now: datetime, pending: bool) -> FlagState:
    """The flag memory as a run ends; `pending`: a write for the ticket was deferred or failed,
    so it goes first next run (and a restoration is not finished yet)."""
    if seen.broken or pending:
        return replace(flag, deferred=pending)
    return replace(
        flag, cleared_at=now, flagged_at=None, escalated_at=None, label_added=False, deferred=False
    )
