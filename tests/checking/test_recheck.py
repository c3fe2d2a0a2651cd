"""Incremental re-check on SQLite and PostgreSQL: after tickets or the map change, `recheck`
and `recheck_map` leave the store as a full check would for the affected tickets, and leave
every other verdict row exactly as it was (same `checked_at`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from bmmsync.checking import (
    judge_store,
    map_changed_tickets,
    recheck,
    recheck_map,
    record_verdicts,
    titles_of,
)
from bmmsync.domain import Capability, Decision, Model, Motivator, Status, Ticket
from bmmsync.store.database import Store
from bmmsync.store.map_repo import load_model, sync_model
from bmmsync.store.models import ProblemRow, TraceLinkRow, VerdictRow
from bmmsync.store.ticket_repo import mark_gone, upsert_tickets
from bmmsync.store.verdict_repo import stored_verdicts
from bmmsync.trace.rules import MappingRules

TODAY = date(2026, 11, 23)
FIRST = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULES = MappingRules()

MODEL = Model(
    motivators=(Motivator("retention", "Retention"), Motivator("cost", "Cost")),
    decisions=(
        Decision("onboarding", "Onboarding", ("retention",)),
        Decision("hosting", "Hosting", ("cost",)),
    ),
    capabilities=(
        Capability("portal", "Portal", ("ssp",), ("onboarding",)),
        Capability("export", "Export", (), ("onboarding",)),
        Capability("infra", "Infra", (), ("hosting",)),
    ),
)


def _ticket(key: str, *labels: str, parent: str | None = None, source: str = "web") -> Ticket:
    return Ticket(source=source, key=key, title=key, labels=labels, parent_key=parent)


TICKETS = [
    _ticket("E-1", "cap:portal"),
    _ticket("S-1", parent="E-1"),
    _ticket("T-1", parent="S-1"),
    _ticket("E-2", "cap:infra"),
    _ticket("S-2", parent="E-2"),
    _ticket("U-1", "cap:billing"),  # unknown today
    _ticket("N-1"),
    _ticket("M-1", parent="NEW-1"),  # parent not synced yet
    _ticket("C-1", parent="C-2"),
    _ticket("C-2", parent="C-1"),
    # same key in another source: must never be confused with web's
    _ticket("S-1", "cap:export", source="jira"),
]


def _rows(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """Verdict rows (with their links) by ticket, as plain values."""
    with store.session() as s:
        links: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
        for link in s.scalars(select(TraceLinkRow)):
            links.setdefault((link.source, link.key), set()).add(
                (link.capability, link.via, link.origin)
            )
        return {
            (v.source, v.key): {
                "in_scope": v.in_scope,
                "scope_reason": v.scope_reason,
                "traced": v.traced,
                "reason": v.reason,
                "severity": v.severity,
                "detail": v.detail,
                "suggestion": v.suggestion,
                "findings": v.findings,
                "links": links.get((v.source, v.key), set()),
                "checked_at": v.checked_at,
            }
            for v in stored_verdicts(s)
        }


def _usage_free(row: dict[str, Any]) -> dict[str, Any]:
    """The row without `no-capability` / `parent-missing` suggestions: they quote the
    capabilities most used in the ticket's project, which only a full check recounts
    (documented on `recheck`)."""
    if row["reason"] not in ("no-capability", "parent-missing"):
        return row
    findings = [f | {"suggestion": ""} for f in row["findings"]]
    return row | {"suggestion": "", "findings": findings}


def _full_check(store: Store, now: datetime) -> None:
    with store.session() as s:
        judged = judge_store(s, RULES, TODAY)
        titles = titles_of(judged.tickets)
        record_verdicts(s, judged.verdicts, now, replace_all=True, titles=titles)


def _arrange(store: Store) -> None:
    with store.session() as s:
        sync_model(s, MODEL, FIRST)
        upsert_tickets(s, TICKETS, FIRST)
    _full_check(store, FIRST)


def _assert_incremental_equals_full(
    store: Store, before: dict[tuple[str, str], dict[str, Any]], affected: set[tuple[str, str]]
) -> None:
    """Verdicts of `affected` tickets equal a fresh full check's (but for `checked_at`); all
    other rows are byte-for-byte what they were before the re-check."""
    after = _rows(store)
    _full_check(store, LATER)
    full = _rows(store)
    assert after.keys() == full.keys()
    for ident, row in after.items():
        expected = full[ident] | {"checked_at": row["checked_at"]}
        assert _usage_free(row) == _usage_free(expected), ident
        if ident in affected:  # a traced ticket without findings has no row (VerdictRow)
            implied = row["in_scope"] and not row["findings"]
            assert row["checked_at"] == (None if implied else LATER), ident
        else:
            assert row == before[ident], ident


def test_recheck_judges_changed_tickets_and_descendants_only(store: Store) -> None:
    _arrange(store)
    before = _rows(store)
    assert before[("web", "T-1")]["traced"]  # through E-1 -> S-1
    edits = [
        replace(TICKETS[0], labels=("cap:billing",)),  # E-1 breaks: S-1, T-1 inherit it
        _ticket("NEW-1", "cap:infra"),  # M-1's parent arrives
    ]
    with store.session() as s:
        upsert_tickets(s, edits, LATER)
        result = recheck(s, RULES, TODAY, [("web", "E-1"), ("web", "NEW-1")], now=LATER)
    judged = {(v.source, v.key) for v in result.verdicts}
    assert judged == {("web", k) for k in ("E-1", "S-1", "T-1", "NEW-1", "M-1")}
    assert result.dropped == []
    after = _rows(store)
    assert after[("web", "T-1")]["reason"] == "unknown-capability"
    assert after[("web", "M-1")]["links"] == {("infra", "inherited", "NEW-1")}
    assert after[("jira", "S-1")] == before[("jira", "S-1")]
    _assert_incremental_equals_full(store, before, judged)


def test_recheck_drops_rows_of_gone_tickets_and_rejudges_their_children(store: Store) -> None:
    _arrange(store)
    before = _rows(store)
    with store.session() as s:
        mark_gone(s, "web", ["E-2"], LATER)
        result = recheck(s, RULES, TODAY, [("web", "E-2")], now=LATER)
    assert result.dropped == [("web", "E-2")]
    assert [(v.key, v.reasons) for v in result.verdicts] == [("S-2", ("parent-missing",))]
    after = _rows(store)
    assert ("web", "E-2") not in after
    _assert_incremental_equals_full(store, before, {("web", "S-2")})


def test_recheck_follows_cycles_and_reparenting(store: Store) -> None:
    _arrange(store)
    before = _rows(store)
    with store.session() as s:
        upsert_tickets(s, [replace(TICKETS[8], parent_key="E-2")], LATER)  # C-1 leaves the loop
        result = recheck(s, RULES, TODAY, [("web", "C-1")], now=LATER)
    assert {(v.key, v.traced) for v in result.verdicts} == {("C-1", True), ("C-2", True)}
    _assert_incremental_equals_full(store, before, {("web", "C-1"), ("web", "C-2")})


def test_recheck_map_judges_tickets_of_changed_chains_and_newly_known_labels(
    store: Store,
) -> None:
    _arrange(store)
    before = _rows(store)
    changed = replace(
        MODEL,
        decisions=(MODEL.decisions[0], replace(MODEL.decisions[1], status=Status.RETIRED)),
        capabilities=(*MODEL.capabilities, Capability("billing", "Billing", (), ("onboarding",))),
    )
    with store.session() as s:
        old = load_model(s)
        sync_model(s, changed, LATER)
        result = recheck_map(s, RULES, TODAY, old, now=LATER)
    judged = {(v.source, v.key) for v in result.verdicts}
    # infra lost its decision (E-2, S-2); billing now exists (U-1)
    assert judged == {("web", "E-2"), ("web", "S-2"), ("web", "U-1")}
    after = _rows(store)
    assert after[("web", "S-2")]["reason"] == "capability-without-decision"
    assert after[("web", "U-1")]["traced"]
    _assert_incremental_equals_full(store, before, judged)


def test_store_holds_rows_only_for_exceptions_and_each_problem_once(store: Store) -> None:
    """Compact verdicts: no row for an in-scope ticket without findings, and two tickets with
    the same problem share one problem row, on a full check and on a re-check alike."""
    _arrange(store)
    twin = _ticket("U-2", "cap:billing")  # the same unknown label as U-1
    closed = replace(_ticket("X-1"), closed=True)
    with store.session() as s:
        upsert_tickets(s, [twin, closed], LATER)
        recheck(s, RULES, TODAY, [("web", "U-2"), ("web", "X-1")], now=LATER)
    with store.session() as s:
        rows = {(r.source, r.key): r for r in s.scalars(select(VerdictRow))}
        problems = s.scalars(select(ProblemRow)).all()
    broken = {("web", k) for k in ("U-1", "U-2", "N-1", "M-1", "C-1", "C-2")}
    assert set(rows) == broken | {("web", "X-1")}  # the traced E-*, S-*, T-1: no row
    assert rows[("web", "U-1")].problem_id == rows[("web", "U-2")].problem_id
    assert rows[("web", "X-1")].problem_id is None and not rows[("web", "X-1")].in_scope
    assert len(problems) == len({r.problem_id for r in rows.values() if r.problem_id})


def test_map_changed_tickets_is_empty_for_the_same_map_unless_a_review_date_passed(
    store: Store,
) -> None:
    """The incremental run's shortcut: an unchanged map reaches no ticket, but a review date
    passed since the last run turns the chains through that motivator overdue."""
    reviewed = replace(
        MODEL,
        motivators=(
            replace(MODEL.motivators[0], review_by=date(2026, 11, 21)),
            MODEL.motivators[1],
        ),
    )
    with store.session() as s:
        sync_model(s, reviewed, FIRST)
        upsert_tickets(s, TICKETS, FIRST)
    _full_check(store, FIRST)
    with store.session() as s:
        model = load_model(s)
        assert map_changed_tickets(s, TODAY, model, TODAY, model=model) == set()
        assert map_changed_tickets(s, TODAY, model, date(2026, 11, 22)) == set()
        passed = map_changed_tickets(s, TODAY, model, date(2026, 11, 20), model=model)
    # retention <- onboarding <- portal (E-1, and S-1, T-1 through it), export (jira's S-1)
    assert passed == {("web", "E-1"), ("web", "S-1"), ("web", "T-1"), ("jira", "S-1")}
