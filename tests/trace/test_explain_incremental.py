"""`explain` trees and incremental re-check sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bmmsync.domain import Status
from bmmsync.trace.explain import ExplainNode, explain
from bmmsync.trace.incremental import (
    ChildrenIndex,
    changed_capabilities,
    links_miss_map_change,
    tickets_for_map_change,
)
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge, tickets_by_source
from bmmsync.trace.rules import MappingRules

from .factories import TODAY, demo_index, demo_model, ticket

RULES = MappingRules()


def kinds(node: ExplainNode) -> list[tuple[str, str, bool]]:
    return [(n.kind, n.id, n.ok) for n in node.walk()]


def test_explain_traced_inherited() -> None:
    tickets = [
        ticket("ACME-1", "cap:portal", title="Epic"),
        ticket("ACME-2", parent="ACME-1"),
        ticket("ACME-3", parent="ACME-2"),
    ]
    found = explain("ACME-3", tickets, demo_index(), RULES, TODAY)
    assert found is not None and found.traced and found.broken_step is None
    assert kinds(found.tree) == [
        ("ticket", "ACME-3", True),
        ("ancestor", "ACME-2", True),
        ("ancestor", "ACME-1", True),
        ("capability", "self-service-portal", True),
        ("decision", "onboarding", True),
        ("motivator", "retention", True),
    ]
    capability = found.tree.walk()[3]
    assert capability.provenance == "label cap:portal"
    assert found.tree.children[0].provenance == "parent"


BROKEN = [
    (
        "unknown",
        [ticket("ACME-1", "cap:portl")],
        "unknown-capability",
        ("unknown-capability", "portl"),
    ),
    ("no-capability", [ticket("ACME-1")], "no-capability", None),
    (
        "retired-cap",
        [ticket("ACME-1", "cap:old-portal")],
        "retired-capability",
        ("capability", "old-portal"),
    ),
    (
        "no-decision",
        [ticket("ACME-1", "cap:no-decision")],
        "capability-without-decision",
        ("capability", "no-decision"),
    ),
    (
        "no-motivator",
        [ticket("ACME-1", "cap:no-motivator")],
        "decision-without-motivator",
        ("decision", "orphan-decision"),
    ),
    (
        "retired-motivator",
        [ticket("ACME-1", "cap:legacy-cap")],
        "retired-motivator",
        ("motivator", "old-goal"),
    ),
    (
        "missing-parent",
        [ticket("ACME-1", parent="ACME-9")],
        "parent-missing",
        ("missing-parent", "ACME-9"),
    ),
    (
        "cycle",
        [ticket("ACME-1", parent="ACME-2"), ticket("ACME-2", parent="ACME-1")],
        "parent-cycle",
        ("loop", "ACME-1"),
    ),
]


@pytest.mark.parametrize(
    ("name", "tickets", "reason", "broken_node"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_explain_broken(
    name: str, tickets: list, reason: str, broken_node: tuple[str, str] | None
) -> None:  # type: ignore[type-arg]
    found = explain("ACME-1", tickets, demo_index(), RULES, TODAY)
    assert found is not None
    assert not found.traced
    assert found.broken_step == reason
    assert found.suggestion
    assert not found.tree.ok
    if broken_node is not None:
        assert any((n.kind, n.id) == broken_node and not n.ok for n in found.tree.walk()), kinds(
            found.tree
        )


def test_explain_review_overdue_marks_motivator() -> None:
    found = explain("ACME-1", [ticket("ACME-1", "cap:stale-cap")], demo_index(), RULES, TODAY)
    assert found is not None and found.traced
    assert found.broken_step == "motivator-review-overdue"
    motivator = found.tree.walk()[-1]
    assert motivator.status.startswith("review overdue since")


def test_explain_unknown_key_and_out_of_scope() -> None:
    assert explain("NOPE-1", [ticket("ACME-1")], demo_index(), RULES, TODAY) is None
    found = explain("ACME-1", [ticket("ACME-1", closed=True)], demo_index(), RULES, TODAY)
    assert found is not None and found.tree.status == "out of scope (closed)"


def test_explain_thousand_deep() -> None:
    tickets = [ticket("ACME-0", "cap:portal")]
    tickets += [ticket(f"ACME-{i}", parent=f"ACME-{i - 1}") for i in range(1, 1001)]
    found = explain("ACME-1000", tickets, demo_index(), RULES, TODAY)
    assert found is not None and found.traced
    assert len(found.tree.walk()) == 1001 + 3


# -- incremental ----------------------------------------------------------------------------
def test_descendants_are_rejudged() -> None:
    tickets = [
        ticket("ACME-1"),
        ticket("ACME-2", parent="ACME-1"),
        ticket("ACME-3", parent="ACME-2"),
        ticket("ACME-4"),
        ticket("ACME-5", parent="ACME-1", source="github"),
    ]
    children = ChildrenIndex(tickets)
    assert children.with_descendants([("jira", "ACME-1")]) == {
        ("jira", "ACME-1"),
        ("jira", "ACME-2"),
        ("jira", "ACME-3"),
    }


def test_descendants_survive_cycles_and_depth() -> None:
    tickets = [ticket("ACME-0", parent="ACME-1000")]
    tickets += [ticket(f"ACME-{i}", parent=f"ACME-{i - 1}") for i in range(1, 1001)]
    assert len(ChildrenIndex(tickets).with_descendants([("jira", "ACME-500")])) == 1001


def test_incremental_verdicts_match_full_run() -> None:
    tickets = [
        ticket("ACME-1", "cap:portal"),
        ticket("ACME-2", parent="ACME-1"),
        ticket("ACME-3", parent="ACME-2"),
        ticket("ACME-4", "cap:export"),
    ]
    index = demo_index()
    changed_epic = replace(tickets[0], labels=("cap:no-decision",))
    updated = [changed_epic, *tickets[1:]]
    affected = ChildrenIndex(updated).with_descendants([("jira", "ACME-1")])
    subset = [t for t in updated if (t.source, t.key) in affected]
    partial = judge(subset, index, RULES, TODAY, context=tickets_by_source(updated))
    full = {v.key: v for v in judge(updated, index, RULES, TODAY)}
    assert {v.key for v in partial} == {"ACME-1", "ACME-2", "ACME-3"}
    for verdict in partial:
        assert verdict.reasons == full[verdict.key].reasons == ("capability-without-decision",)


def test_changed_capabilities() -> None:
    old = demo_index()
    model = demo_model()
    retired = tuple(
        replace(m, status=Status.RETIRED) if m.id == "privacy-law" else m for m in model.motivators
    )
    new = MapIndex(replace(model, motivators=retired))
    assert changed_capabilities(old, new, TODAY) == {"data-export"}
    assert changed_capabilities(old, demo_index(), TODAY) == set()


def test_changed_capabilities_sees_review_dates_and_aliases() -> None:
    model = demo_model()
    caps = tuple(
        replace(c, aliases=("portal", "SSP", "web")) if c.id == "self-service-portal" else c
        for c in model.capabilities
    )
    new = MapIndex(replace(model, capabilities=caps))
    assert changed_capabilities(demo_index(), new, TODAY) == {"self-service-portal"}
    model = demo_model()
    reviewed = tuple(
        replace(m, review_by=TODAY.replace(year=2027)) if m.id == "stale" else m
        for m in model.motivators
    )
    assert changed_capabilities(
        demo_index(), MapIndex(replace(model, motivators=reviewed)), TODAY
    ) == {
        "stale-cap",
        "mixed-cap",
    }


def test_changed_capabilities_since_a_day_sees_a_review_date_pass_and_renames() -> None:
    """Same map, judged on 2026-12-31 and again on 2027-01-02: `fresh` (due 2027-01-01)
    became overdue in between. A decision's or motivator's new name changes the comment."""
    before, after = date(2026, 12, 31), date(2027, 1, 2)
    index = demo_index()
    passed = {cid for cid in index.capabilities if "fresh" in _motivators(index, cid)}
    assert passed and changed_capabilities(index, index, after, since=before) == passed
    assert changed_capabilities(index, index, after, since=after) == set()
    model = demo_model()
    renamed = tuple(replace(d, name="Onboarding 2.0") if d.id == "onboarding" else d
                    for d in model.decisions)  # fmt: skip
    new = MapIndex(replace(model, decisions=renamed))
    assert changed_capabilities(index, new, TODAY) == {
        cid for cid, c in index.capabilities.items() if "onboarding" in c.decisions
    }


def _motivators(index: MapIndex, cid: str) -> set[str]:
    return {m for d in index.capabilities[cid].decisions for m in index.decisions[d].motivators}


def test_links_miss_a_moved_name_only_under_a_bare_label_pattern() -> None:
    model = demo_model()
    caps = tuple(replace(c, aliases=(*c.aliases, "web")) if c.id == "data-export" else c
                 for c in model.capabilities)  # fmt: skip
    new = MapIndex(replace(model, capabilities=caps))
    bare = MappingRules(capability_labels=("cap:{id}", "{id}"))
    assert links_miss_map_change(demo_index(), new, bare)
    assert not links_miss_map_change(demo_index(), new, RULES)
    assert not links_miss_map_change(demo_index(), demo_index(), bare)


def test_tickets_for_map_change() -> None:
    tickets = [
        ticket("ACME-1", "cap:export"),
        ticket("ACME-2", parent="ACME-1"),
        ticket("ACME-3", "cap:portal"),
        ticket("ACME-4", "cap:web"),
    ]
    model = demo_model()
    retired = tuple(
        replace(m, status=Status.RETIRED) if m.id == "privacy-law" else m for m in model.motivators
    )
    caps = tuple(
        replace(c, aliases=(*c.aliases, "web")) if c.id == "data-export" else c
        for c in model.capabilities
    )
    new = MapIndex(replace(model, motivators=retired, capabilities=caps))
    affected = tickets_for_map_change(demo_index(), new, tickets, RULES, TODAY)
    assert affected == {("jira", "ACME-1"), ("jira", "ACME-2"), ("jira", "ACME-4")}
    assert tickets_for_map_change(demo_index(), demo_index(), tickets, RULES, TODAY) == set()
