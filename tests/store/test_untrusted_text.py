"""Tracker text in the store: a NUL (which PostgreSQL's text type refuses) in any field of a
ticket must not fail its page; it is kept, on both databases, as U+FFFD."""

from __future__ import annotations

from datetime import UTC, datetime

from bmmsync.domain import Ticket
from bmmsync.store.database import Store
from bmmsync.store.ticket_repo import get_tickets, upsert_tickets

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_nul_in_every_text_field_is_stored_as_replacement(store: Store) -> None:
    hostile = Ticket(
        source="web",
        key="acme/web#1",
        title="nul\x00title \x1b[31m\r\u202e",
        labels=("cap:\x00x",),
        fields={"Capability": "a\x00b", "nested": ["c\x00"], "k\x00": 1},
        assignee="al\x00ice",
        project="we\x00b",
    )
    plain = Ticket(source="web", key="acme/web#2", title="plain")
    with store.session() as session:
        counts = upsert_tickets(session, [hostile, plain], NOW)
    assert (counts.new, counts.changed) == (2, 0)
    with store.session() as session:
        (stored, other) = sorted(
            get_tickets(session, ["acme/web#1", "acme/web#2"]), key=lambda t: t.key
        )
        again = upsert_tickets(session, [hostile], NOW)
    assert stored.title == "nul\ufffdtitle \x1b[31m\r\u202e", "only NUL changes in the store"
    assert stored.labels == ("cap:\ufffdx",)
    assert stored.fields == {"Capability": "a\ufffdb", "nested": ["c\ufffd"], "k\ufffd": 1}
    assert (stored.assignee, stored.project) == ("al\ufffdice", "we\ufffdb")
    assert other.title == "plain"
    assert (again.unchanged, again.changed) == (1, 0), "a re-sync of the same text is no change"
