"""`/explain` and `bmmsync explain` at any store size: the ticket is judged with its ancestors
only, its usage-based suggestion is the one the last check stored, and an unknown key's
did-you-mean reads only keys near it (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bmmsync.domain import Ticket
from bmmsync.reporting import closest_keys, explain_stored
from bmmsync.store.database import Store
from bmmsync.store.map_repo import load_model
from bmmsync.store.ticket_repo import iter_tickets, mark_gone, tickets_by_id, upsert_tickets
from bmmsync.trace.explain import explain
from bmmsync.trace.index import MapIndex
from tests.web.conftest import Dashboard


def test_explain_answers_as_judging_the_whole_source_did(dashboard: Dashboard) -> None:
    rules = dashboard.config.mapping.to_rules()
    today = datetime.now(UTC).date()
    store = Store.open(dashboard.db_url)
    with store.session() as session:
        tickets = list(iter_tickets(session))
        index = MapIndex(load_model(session))
        assert len(tickets) > 20
        for ticket in tickets:
            same_source = [t for t in tickets if t.source == ticket.source]
            whole = explain(ticket.key, same_source, index, rules, today, ticket.source)
            chain = explain_stored(session, rules, today, ticket.key, ticket.source)
            assert whole is not None
            assert (chain.verdict, chain.tree, chain.findings) == (
                whole.verdict,
                whole.tree,
                whole.findings,
            ), ticket.key

        # New tickets in the project, not checked yet: judging the whole source would now
        # quote their capability; explain keeps the suggestion the check stored (and the bot
        # commented), as the incremental re-check does.
        unlabelled = next(
            t
            for t in tickets
            if explain_stored(session, rules, today, t.key, t.source).broken_step == "no-capability"
        )
        before = explain_stored(session, rules, today, unlabelled.key, unlabelled.source)
        cid = sorted(index.capabilities)[-1]
        added = [
            replace(unlabelled, key=f"{unlabelled.key}-new{i}", labels=(f"cap:{cid}",), url="")
            for i in range(30)
        ]
        upsert_tickets(session, added, datetime.now(UTC))
        every = list(iter_tickets(session, source=unlabelled.source))
        whole = explain(unlabelled.key, every, index, rules, today, unlabelled.source)
        assert whole is not None and cid in whole.suggestion
        after = explain_stored(session, rules, today, unlabelled.key, unlabelled.source)
        assert after.suggestion == before.suggestion and cid not in after.suggestion
    store.close()


def _ticket(key: str, source: str = "jira") -> Ticket:
    return Ticket(source=source, key=key, title=key, project=key.rsplit("-", 1)[0])


def test_did_you_mean_finds_the_neighbours_of_an_unknown_key(db_url: str) -> None:
    store = Store.open(db_url)
    now = datetime.now(UTC)
    tickets = [_ticket(f"PLAT-{n}") for n in range(1, 3001)]
    tickets += [_ticket(f"WEB-{n}", "github") for n in range(1, 200)]
    with store.session() as session:
        upsert_tickets(session, tickets, now)
    with store.session() as session:
        # A digit too many, far from its neighbour in key order (PLAT-2999 < PLAT-29990).
        assert closest_keys(session, "PLAT-29999", None)[0] == "PLAT-2999"
        # Another case first, in the given source only.
        assert closest_keys(session, "plat-17", "jira")[0] == "PLAT-17"
        assert closest_keys(session, "plat-17", "github") == []
        # A slip in the project part: the one-character edits find it.
        assert "PLAT-123" in closest_keys(session, "PLTA-123", None)
        assert "WEB-12" in closest_keys(session, "WEB-12x", None)
        # Gone tickets are not suggested.
        gone = tickets_by_id(session, [("jira", "PLAT-2999")])
        assert gone
        mark_gone(session, "jira", ["PLAT-2999"], now)
        assert "PLAT-2999" not in closest_keys(session, "PLAT-29999", None)
    store.close()
