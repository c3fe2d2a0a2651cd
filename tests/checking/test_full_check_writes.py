"""A full check writes only what changed since the stored verdicts, on SQLite and PostgreSQL:
nothing for an unchanged store, and otherwise the same rows a check from empty tables gives."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import delete, select

from bmmsync import checking
from bmmsync.checking import judge_store, record_verdicts, titles_of
from bmmsync.store.database import Store
from bmmsync.store.models import ProblemRow, TraceLinkRow, VerdictRow
from bmmsync.store.ticket_repo import mark_gone, upsert_tickets
from tests.checking.test_recheck import FIRST, LATER, RULES, TICKETS, TODAY, _arrange, _rows


def _check(store: Store) -> int:
    with store.session() as s:
        judged = judge_store(s, RULES, TODAY)
        titles = titles_of(judged.tickets)
        return record_verdicts(s, judged.verdicts, LATER, replace_all=True, titles=titles)


@pytest.fixture(params=[checking._LINK_PART, 2], ids=["one-part", "parts"])
def link_part(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Link rows compared in one part, and in parts of two tickets: then each part's stored
    rows are chosen by the database (`_PART_SQL`), and must be the part's own."""
    monkeypatch.setattr(checking, "_LINK_PART", request.param)


@pytest.mark.usefixtures("link_part")
def test_full_check_of_an_unchanged_store_writes_nothing(store: Store) -> None:
    _arrange(store)
    before = _rows(store)
    assert _check(store) == 0
    assert _rows(store) == before  # `checked_at` of every row still FIRST


@pytest.mark.usefixtures("link_part")
def test_full_check_writes_the_difference_and_ends_as_a_check_from_scratch(store: Store) -> None:
    _arrange(store)
    before = _rows(store)
    edits = [
        replace(TICKETS[0], labels=("cap:billing",)),  # E-1 breaks: S-1, T-1 inherit it
        replace(TICKETS[5], labels=("cap:infra",)),  # U-1 traced now: its row goes
    ]
    with store.session() as s:
        upsert_tickets(s, edits, LATER)
        mark_gone(s, "web", ["N-1"], LATER)  # its no-capability row goes
    assert _check(store) > 0
    after = _rows(store)
    with store.session() as s:
        for table in (VerdictRow, TraceLinkRow, ProblemRow):
            s.execute(delete(table))
    _check(store)
    scratch = _rows(store)
    assert after.keys() == scratch.keys()
    for ident, row in after.items():
        assert row | {"checked_at": None} == scratch[ident] | {"checked_at": None}, ident
        if row["checked_at"] is not None:  # a stored row: rewritten only if it changed
            old = before.get(ident, {}) | {"checked_at": None}
            changed = row | {"checked_at": None} != old
            assert row["checked_at"] == (LATER if changed else FIRST), ident
    for key in ("E-1", "S-1", "T-1"):
        assert after[("web", key)]["checked_at"] == LATER, key
    assert after[("web", "E-2")] == before[("web", "E-2")]
    assert ("web", "U-1") in after and after[("web", "U-1")]["checked_at"] is None
    with store.session() as s:
        assert s.scalar(select(VerdictRow.key).where(VerdictRow.key == "N-1")) is None
        used = set(s.scalars(select(VerdictRow.problem_id).where(VerdictRow.problem_id > 0)))
        assert set(s.scalars(select(ProblemRow.id))) == used  # no problem left unused
