"""The planner: desired state per ticket, priority order, budget, and convergence."""

from __future__ import annotations

from dataclasses import replace
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
    after_write,
    on_seen,
    on_settle,
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
    p = plan(*subjects, comment=False, max_writes=5, source_caps={"jira": 1})
    assert [w.source for w in p.writes].count("jira") == 1
    assert [w.source for w in p.writes].count("gh") == 4


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

LABELS = [GOOD, BAD, "cap:no-motivator", "no-trace", "trace-broken"]

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
states = st.lists(
    st.tuples(st.sets(st.sampled_from(LABELS)), flags, st.booleans()), min_size=1, max_size=8
)


def run_once(world: dict[str, tuple[Ticket, FlagState | None]], budget: int) -> FlagPlan:
    """Plan, then do every scheduled write on the fake tracker and memory, as apply does."""
    p = plan_flags(
        [subject(t, f) for t, f in world.values()], FlagPolicy(max_writes=budget), render, NOW
    )
    memory = {}
    for seen in p.seen:
        memory[seen.key] = on_seen(world[seen.key][1], seen, NOW)
    for w in p.writes:
        t, _ = world[w.key]
        labels = set(t.labels)
        if w.action is Action.ADD_LABEL:
            labels.add(w.label)
        elif w.action is Action.REMOVE_LABEL:
            labels.discard(w.label)
        world[w.key] = (replace(t, labels=tuple(sorted(labels))), world[w.key][1])
        memory[w.key] = after_write(memory[w.key], w, NOW, comment_id=w.comment_id or "new")
    pending = {w.key for w in p.deferred}
    for seen in p.seen:
        world[seen.key] = (
            world[seen.key][0],
            on_settle(memory[seen.key], seen, NOW, seen.key in pending),
        )
    return p


@settings(max_examples=150, deadline=None)
@given(states)
def test_apply_then_plan_is_a_no_op(rows: list[tuple[set[str], FlagState | None, bool]]) -> None:
    world = {
        f"A-{i}": (ticket(f"A-{i}", *sorted(labels)), flag)
        for i, (labels, flag, _) in enumerate(rows)
    }
    run_once(world, budget=1000)
    assert run_once(world, budget=1000).writes == ()


@settings(max_examples=100, deadline=None)
@given(states, st.integers(min_value=1, max_value=4))
def test_budget_reaches_everything(
    rows: list[tuple[set[str], FlagState | None, bool]], budget: int
) -> None:
    world = {
        f"A-{i}": (ticket(f"A-{i}", *sorted(labels)), flag)
        for i, (labels, flag, _) in enumerate(rows)
    }
    first = plan_flags(
        [subject(t, f) for t, f in world.values()], FlagPolicy(max_writes=budget), render, NOW
    )
    runs = 0
    while (p := run_once(world, budget)).writes:
        assert len(p.writes) <= budget
        assert p.stats.scheduled + p.stats.deferred == p.stats.planned
        runs += 1
    assert runs <= -(-first.stats.planned // budget)
