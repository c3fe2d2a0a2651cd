"""Hypothesis properties of the trace engine."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmmsync.domain import Status, Ticket
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import Verdict, judge, tickets_by_source
from bmmsync.trace.rules import MappingRules

from .factories import TODAY, demo_model

RULES = MappingRules()
MODEL = demo_model()
INDEX = MapIndex(MODEL)
CAP_LABELS = [f"cap:{c.id}" for c in MODEL.capabilities] + ["CAP: Portal", "cap:nope"]
NOISE = ["bug", "frontend", "ux"]
HEALTHY_LABEL = "cap:self-service-portal"
# Capability field values (read only when the rules name the field): None leaves it unset.
FIELD_VALUES = [None, None, "portal", {"value": "self-service-portal"}, "nope", 42]


@st.composite
def backlogs(draw: st.DrawFn, max_size: int = 12, capability_labels: bool = True) -> list[Ticket]:
    """A small backlog: unique keys, random labels, parents that may be missing or loop."""
    n = draw(st.integers(1, max_size))
    pool = CAP_LABELS + NOISE + ["no-trace"] if capability_labels else NOISE
    tickets = []
    for i in range(n):
        labels = draw(st.lists(st.sampled_from(pool), max_size=2))
        parent = draw(
            st.one_of(
                st.none(),
                st.integers(0, n - 1).map(lambda j: f"T-{j}"),
                st.just("GONE-1"),
            )
        )
        field = draw(st.sampled_from(FIELD_VALUES))
        tickets.append(
            Ticket(
                source="jira",
                key=f"T-{i}",
                title=f"t{i}",
                labels=tuple(labels),
                fields={} if field is None else {"Capability": field},
                parent_key=parent,
                project=draw(st.sampled_from(["A", "B"])),
                closed=draw(st.sampled_from([False, False, False, True])),
            )
        )
    return tickets


def outcome(verdict: Verdict) -> tuple[bool, str | None, bool, tuple[str, ...]]:
    return (verdict.in_scope, verdict.scope_reason, verdict.traced, verdict.reasons)


def by_key(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.key: v for v in verdicts}


@settings(max_examples=100, deadline=None)
@given(backlogs(), st.randoms())
def test_verdicts_do_not_depend_on_input_order(tickets: list[Ticket], rnd: object) -> None:
    shuffled = list(tickets)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert by_key(judge(tickets, INDEX, RULES, TODAY)) == by_key(
        judge(shuffled, INDEX, RULES, TODAY)
    )


@settings(max_examples=100, deadline=None)
@given(backlogs(capability_labels=False), st.data())
def test_adding_a_valid_label_makes_a_ticket_traced(
    tickets: list[Ticket], data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(tickets) - 1))
    target = replace(tickets[position], closed=False)
    tickets[position] = target
    before = by_key(judge(tickets, INDEX, RULES, TODAY))[target.key]
    assert before.in_scope and not before.traced
    tickets[position] = replace(target, labels=(*target.labels, HEALTHY_LABEL))
    after = by_key(judge(tickets, INDEX, RULES, TODAY))[target.key]
    assert after.traced, after.findings


@settings(max_examples=150, deadline=None)
@given(backlogs())
def test_child_without_own_link_gets_its_parents_verdict(tickets: list[Ticket]) -> None:
    verdicts = by_key(judge(tickets, INDEX, RULES, TODAY))
    capability_like = {label.casefold() for label in CAP_LABELS}
    for child in tickets:
        parent_key = child.parent_key
        if parent_key is None or parent_key not in verdicts or parent_key == child.key:
            continue
        if any(label.casefold() in capability_like for label in child.labels):
            continue
        if "no-trace" in child.labels or child.closed:
            continue
        mine, theirs = verdicts[child.key], verdicts[parent_key]
        if theirs.scope_reason == "exempt":
            assert mine.scope_reason == "exempt"
        elif theirs.in_scope:
            assert (mine.traced, mine.reasons) == (theirs.traced, theirs.reasons)


# Suggestions that quote the capabilities used in the ticket's project by the judged tickets.
USAGE_QUOTED = {"no-capability", "parent-missing"}


def _comparable(verdict: Verdict) -> Verdict:
    """`verdict` with the suggestions that quote the project's usage blanked."""
    findings = tuple(
        replace(f, suggestion="") if f.reason in USAGE_QUOTED else f for f in verdict.findings
    )
    return replace(verdict, findings=findings)


def _generated_backlog(seed: int, n: int = 400) -> list[Ticket]:
    """A backlog where label sets, parents and walk ends repeat (what the judge shares
    work on), with missing parents, loops, closed tickets and capability field values."""
    rng = random.Random(seed)
    pool = [*CAP_LABELS, *NOISE, "no-trace"]
    tickets = []
    for i in range(n):
        roll = rng.random()
        parent = None if roll < 0.3 else "GONE-1" if roll < 0.35 else f"T-{rng.randrange(n)}"
        labels = tuple(rng.sample(pool, rng.choice([0, 0, 1, 1, 1, 2])))
        source = rng.choice(["jira", "jira", "github"])
        field = rng.choice(FIELD_VALUES)
        if i % 40 < 2:  # a loop of two that names nothing
            parent, labels, source, field = f"T-{i ^ 1}", (), "jira", None
        tickets.append(
            Ticket(
                source=source,
                key=f"T-{i}",
                title=f"t{i}",
                labels=labels,
                fields={} if field is None else {"Capability": field},
                parent_key=parent,
                project=rng.choice(["A", "B"]),
                closed=rng.random() < 0.1,
            )
        )
    return tickets


@pytest.mark.parametrize(
    "rules",
    [
        RULES,
        replace(RULES, allow_multiple=True),
        replace(RULES, inherit_from_parent=False),
        replace(RULES, capability_field="Capability"),
    ],
    ids=["default", "multiple", "no-inheritance", "field"],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_shared_work_gives_what_each_ticket_judged_alone_gets(
    rules: MappingRules, seed: int
) -> None:
    """The judge shares work between tickets (per label set, per parent-walk end, per
    capability): each ticket judged alone, by a judge that has memoised nothing, must get
    the same verdict (suggestions that quote the project's usage aside)."""
    tickets = _generated_backlog(seed)
    context = tickets_by_source(tickets)
    together = judge(tickets, INDEX, rules, TODAY)
    reasons = {reason for v in together for reason in v.reasons}
    assert "unknown-capability" in reasons
    assert ({"parent-cycle", "parent-missing"} <= reasons) is rules.inherit_from_parent
    for ticket, verdict in zip(tickets, together, strict=True):
        alone = judge([ticket], MapIndex(MODEL), rules, TODAY, context=context)
        assert [_comparable(v) for v in alone] == [_comparable(verdict)]


def _break(capability_id: str, how: str) -> MapIndex:
    capabilities = []
    for capability in MODEL.capabilities:
        if capability.id == capability_id:
            if how == "retire":
                capability = replace(capability, status=Status.RETIRED)
            elif how == "no-decisions":
                capability = replace(capability, decisions=())
            else:
                capability = replace(capability, decisions=("legacy",))
        capabilities.append(capability)
    return MapIndex(replace(MODEL, capabilities=tuple(capabilities)))


@settings(max_examples=100, deadline=None)
@given(
    backlogs(),
    st.sampled_from([c.id for c in MODEL.capabilities if c.status is Status.ACTIVE]),
    st.sampled_from(["retire", "no-decisions", "retired-motivator"]),
)
def test_changing_one_chain_changes_only_its_tickets(
    tickets: list[Ticket], capability_id: str, how: str
) -> None:
    before = by_key(judge(tickets, INDEX, RULES, TODAY))
    after = by_key(judge(tickets, _break(capability_id, how), RULES, TODAY))
    for key, old in before.items():
        new = after[key]
        linked = {link.capability for link in (*old.links, *new.links)}
        if capability_id not in linked:
            assert outcome(old) == outcome(new), key
        assert old.links == new.links
