"""The planner: desired state per ticket, priority order, budget, and convergence."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmmsync.bot.planner import (
    Action,
    EscalationPolicy,
    FlagPlan,
    FlagPolicy,
    FlagState,
    Priority,
    Rendered,
    Subject,
    Write,
    plan_flags,
)
from bmmsync.domain import Ticket
from bmmsync.trace.judge import judge
from bmmsync.trace.rules import MappingRules
from tests.trace.factories import TODAY, demo_index, ticket

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
INDEX = demo_index()
RULES = MappingRules()
GOOD = "cap:self-service-portal"
BAD = "cap:portl"


def render(subject: Subject, *, restored: bool) -> Rendered:
    """A stand-in renderer: the body changes when the reason or the variant changes."""
    primary = subject.verdict.primary
    text = "restored" if restored else f"broken {primary.reason if primary else ''}"
    return Rendered(text, f"digest:{text}")


BROKEN_DIGEST = "digest:broken unknown-capability"
RESTORED_DIGEST = "digest:restored"


def subject(t: Ticket, flag: FlagState | None = None) -> Subject:
    (verdict,) = judge([t], INDEX, RULES, TODAY)
    return Subject(verdict, t, flag)


def plan(*subjects: Subject, **policy: object) -> FlagPlan:
    return plan_flags(subjects, FlagPolicy(**policy), render, NOW)  # type: ignore[arg-type]


def actions(p: FlagPlan) -> list[str]:
    return [w.action.value for w in p.writes]


ACTIVE = FlagState(
    reason="unknown-capability",
    first_seen=NOW - timedelta(days=3),
    flagged_at=NOW - timedelta(days=3),
    label_added=True,
    comment_id="c1",
    comment_digest=BROKEN_DIGEST,
)
CLEARED = replace(
    ACTIVE, label_added=False, flagged_at=None, cleared_at=NOW, comment_digest=RESTORED_DIGEST
)

CASES = [
    ("new broken ticket", ticket("A-1", BAD), None, ["add-label", "create-comment"]),
    ("broken, already flagged", ticket("A-1", BAD, "trace-broken"), ACTIVE, []),
    (
        "reason changed: edit the same comment",
        ticket("A-1", "cap:no-motivator", "trace-broken"),
        ACTIVE,
        ["edit-comment"],
    ),
    ("human removed our label: put it back", ticket("A-1", BAD), ACTIVE, ["add-label"]),
    (
        "fixed: lift our label, restore the comment",
        ticket("A-1", GOOD, "trace-broken"),
        ACTIVE,
        ["remove-label", "restore-comment"],
    ),
    (
        "fixed, label was a human's: keep it",
        ticket("A-1", GOOD, "trace-broken"),
        replace(ACTIVE, label_added=False),
        ["restore-comment"],
    ),
    (
        "fixed and already restored",
        ticket("A-1", GOOD),
        replace(ACTIVE, label_added=False, comment_digest=RESTORED_DIGEST),
        [],
    ),
    ("traced, never flagged", ticket("A-1", GOOD), None, []),
    (
        "exempt now: restore",
        ticket("A-1", "no-trace", "trace-broken"),
        ACTIVE,
        ["remove-label", "restore-comment"],
    ),
    ("broken again: same comment", ticket("A-1", BAD), CLEARED, ["add-label", "edit-comment"]),
    ("closed: history, untouched", ticket("A-1", BAD, closed=True), ACTIVE, []),
    ("closed, never flagged", ticket("A-1", BAD, state="closed"), None, []),
]


@pytest.mark.parametrize(
    ("t", "flag", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_desired_state(t: Ticket, flag: FlagState | None, expected: list[str]) -> None:
    assert actions(plan(subject(t, flag))) == expected


def test_comment_off_means_label_only() -> None:
    assert actions(plan(subject(ticket("A-1", BAD)), comment=False)) == ["add-label"]


def test_priorities() -> None:
    new = plan(subject(ticket("A-1", BAD))).writes
    again = plan(subject(ticket("A-1", BAD), CLEARED)).writes
    edit = plan(subject(ticket("A-1", "cap:no-motivator", "trace-broken"), ACTIVE)).writes
    restore = plan(subject(ticket("A-1", GOOD, "trace-broken"), ACTIVE)).writes
    assert {w.priority for w in new} == {Priority.NEW}
    assert {w.priority for w in again} == {Priority.NEW}
    assert {w.priority for w in edit} == {Priority.EDIT}
    assert {w.priority for w in restore} == {Priority.RESTORE}


def test_order_deferred_then_new_restore_edit_oldest_first() -> None:
    old, young = NOW - timedelta(days=9), NOW - timedelta(days=1)
    subjects = [
        subject(ticket("E-1", "cap:no-motivator", "trace-broken"), replace(ACTIVE, first_seen=old)),
        subject(ticket("R-1", GOOD, "trace-broken"), replace(ACTIVE, first_seen=old)),
        subject(ticket("N-2", BAD), FlagState(first_seen=young)),
        subject(ticket("N-1", BAD), FlagState(first_seen=old)),
        subject(ticket("D-1", BAD), FlagState(first_seen=young, deferred=True)),
    ]
    order = [(w.key, w.action.value) for w in plan(*subjects).writes]
    assert order == [
        ("D-1", "add-label"),
        ("D-1", "create-comment"),
        ("N-1", "add-label"),
        ("N-1", "create-comment"),
        ("N-2", "add-label"),
        ("N-2", "create-comment"),
        ("R-1", "remove-label"),
        ("R-1", "restore-comment"),
        ("E-1", "edit-comment"),
    ]


def test_budget_defers_and_counts() -> None:
    subjects = [subject(ticket(f"A-{i}", BAD)) for i in range(10)]
    p = plan(*subjects, comment=False, max_writes=3)
    assert (p.stats.planned, p.stats.scheduled, p.stats.deferred) == (10, 3, 7)
    assert len(p.writes) == 3 and len(p.deferred) == 7


def test_source_cap_leaves_budget_to_other_sources() -> None:
    subjects = [subject(ticket(f"A-{i}", BAD, source="jira")) for i in range(4)] + [
        subject(ticket(f"B-{i}", BAD, source="gh")) for i in range(4)
    ]
    p = plan(*subjects, comment=False, max_writes=8, source_caps={"jira": 1})
    assert [w.source for w in p.writes].count("jira") == 1
    assert [w.source for w in p.writes].count("gh") == 4
    assert [w.key for w in p.deferred] == ["A-1", "A-2", "A-3"]


def test_escalation_after_threshold_only_once() -> None:
    policy = {
        "escalate_after": timedelta(days=14),
        "escalation": EscalationPolicy(label="unjustified", close=True),
    }
    old = replace(ACTIVE, flagged_at=NOW - timedelta(days=15))
    t = ticket("A-1", BAD, "trace-broken")
    (write,) = plan(subject(t, old), **policy).writes
    assert (write.action, write.label, write.close_reason) == (
        Action.ESCALATE,
        "unjustified",
        "not_planned",
    )
    assert plan(subject(t, replace(old, escalated_at=NOW)), **policy).writes == ()
    assert plan(subject(t, ACTIVE), **policy).writes == ()  # 3 days: too young
    assert plan(subject(t, old)).writes == ()  # off by default


# ---------------------------------------------------------------- convergence (hypothesis)
# The planner runs against a tracker model of the test's own (labels and comments per ticket)
# and a bot memory kept the simplest way, not with the executor's after_write/on_seen/on_settle.
# What the tracker ends up holding is judged against the desired state, written out here.

LABELS = [GOOD, BAD, "cap:no-motivator", "no-trace", "trace-broken"]
FLAG = "trace-broken"

flags = st.one_of(
    st.none(),
    st.builds(
        FlagState,
        first_seen=st.just(NOW - timedelta(days=1)),
        flagged_at=st.sampled_from([None, NOW - timedelta(days=1)]),
        label_added=st.booleans(),
        comment_id=st.sampled_from([None, "c1"]),
        comment_digest=st.sampled_from([None, BROKEN_DIGEST, RESTORED_DIGEST, "old"]),
        cleared_at=st.sampled_from([None, NOW - timedelta(days=2)]),
        deferred=st.booleans(),
    ),
)
# (labels, flag memory, closed)
states = st.lists(
    st.tuples(st.sets(st.sampled_from(LABELS)), flags, st.booleans()), min_size=1, max_size=8
)
Row = tuple[set[str], FlagState | None, bool]


@dataclass
class TrackerTicket:
    """One ticket as the tracker holds it, and what the bot remembers of it."""

    ticket: Ticket
    comments: dict[str, str]  # comment id -> digest of its body
    memory: FlagState | None
    created: int = 0  # comments the bot created on it

    @property
    def labels(self) -> set[str]:
        return set(self.ticket.labels)


class TrackerModel:
    def __init__(self, rows: list[Row]) -> None:
        self.tickets: dict[str, TrackerTicket] = {}
        for i, (labels, flag, closed) in enumerate(rows):
            key = f"A-{i}"
            state = "closed" if closed else "open"
            comments = (
                {flag.comment_id: flag.comment_digest or "?"} if flag and flag.comment_id else {}
            )
            self.tickets[key] = TrackerTicket(
                ticket(key, *sorted(labels), state=state, closed=closed), comments, flag
            )
        self.next_comment = 2

    def broken(self, key: str) -> str | None:
        """The reason a ticket is broken (open, in scope, not traced), judged afresh."""
        t = self.tickets[key].ticket
        (verdict,) = judge([t], INDEX, RULES, TODAY)
        if t.closed or not verdict.in_scope or verdict.traced:
            return None
        assert verdict.primary is not None
        return str(verdict.primary.reason)

    def run(self, budget: int) -> FlagPlan:
        subjects = [subject(t.ticket, t.memory) for t in self.tickets.values()]
        p = plan_flags(subjects, FlagPolicy(max_writes=budget), render, NOW)
        for w in p.writes:
            self.write(self.tickets[w.key], w)
        pending = {w.key for w in p.deferred}
        for key, t in self.tickets.items():
            if t.memory is None or t.ticket.closed:
                continue
            if self.broken(key):
                t.memory = replace(t.memory, cleared_at=None, deferred=key in pending)
            elif key in pending:
                t.memory = replace(t.memory, deferred=True)
            else:
                t.memory = replace(
                    t.memory, cleared_at=NOW, flagged_at=None, label_added=False, deferred=False
                )
        return p

    def write(self, t: TrackerTicket, w: Write) -> None:
        memory = t.memory or FlagState(first_seen=NOW)
        labels = t.labels
        if w.action is Action.ADD_LABEL:
            assert w.label == FLAG
            labels.add(FLAG)
            memory = replace(memory, label_added=True, flagged_at=memory.flagged_at or NOW)
        elif w.action is Action.REMOVE_LABEL:
            assert w.label == FLAG
            labels.discard(FLAG)
            memory = replace(memory, label_added=False)
        elif w.action is Action.CREATE_COMMENT:
            comment_id = f"c{self.next_comment}"
            self.next_comment += 1
            t.comments[comment_id] = str(w.digest)
            t.created += 1
            memory = replace(
                memory,
                comment_id=comment_id,
                comment_digest=w.digest,
                flagged_at=memory.flagged_at or NOW,
            )
        else:
            assert w.action in (Action.EDIT_COMMENT, Action.RESTORE_COMMENT), w.action
            assert w.comment_id in t.comments, "the tracker answers 404 for an unknown comment"
            t.comments[w.comment_id] = str(w.digest)
            memory = replace(memory, comment_digest=w.digest)
        t.ticket = replace(t.ticket, labels=tuple(sorted(labels)))
        t.memory = memory


def assert_desired_state(model: TrackerModel, rows: list[Row]) -> None:
    """Broken: our label and one comment saying why; fixed: our label off, the same comment
    says restored; closed or never flagged: untouched. Never a second comment."""
    for i, (labels, flag, closed) in enumerate(rows):
        key = f"A-{i}"
        t = model.tickets[key]
        start_comments = (
            {flag.comment_id: flag.comment_digest or "?"} if flag and flag.comment_id else {}
        )
        assert t.labels - {FLAG} == labels - {FLAG}, key
        reason = model.broken(key)
        owed = (
            flag is not None
            and flag.cleared_at is None
            and (flag.flagged_at is not None or flag.label_added or flag.comment_id is not None)
        )
        if closed:
            assert (t.labels, t.comments) == (labels, start_comments), key
        elif reason is not None:
            assert FLAG in t.labels, key
            assert list(t.comments.values()) == [f"digest:broken {reason}"], key
            assert t.created == (0 if start_comments else 1), key
        elif owed:
            assert flag is not None
            assert (FLAG in t.labels) == (FLAG in labels and not flag.label_added), key
            assert t.comments == {k: RESTORED_DIGEST for k in start_comments}, key
            assert t.created == 0, key
        else:
            assert (t.labels, t.comments, t.created) == (labels, start_comments, 0), key


@settings(max_examples=150, deadline=None)
@given(states)
def test_apply_then_plan_is_a_no_op(rows: list[Row]) -> None:
    model = TrackerModel(rows)
    model.run(budget=1000)
    assert_desired_state(model, rows)
    assert model.run(budget=1000).writes == ()


@settings(max_examples=100, deadline=None)
@given(states, st.integers(min_value=1, max_value=4))
def test_budget_reaches_everything(rows: list[Row], budget: int) -> None:
    model = TrackerModel(rows)
    first = model.run(budget)
    assert len(first.writes) <= budget
    most = max(1, -(-first.stats.planned // budget))
    runs = 1
    while (p := model.run(budget)).writes:
        runs += 1
        assert runs <= most, "does not converge within the runs the first plan needs"
        assert len(p.writes) <= budget
        assert p.stats.scheduled + p.stats.deferred == p.stats.planned
    assert_desired_state(model, rows)
