"""`/review`'s text filter and sorts through migration 0009's indexes, on both databases:
the text index finds what a plain substring test finds (hostile text included) and follows
the tickets as the store's upserts change them; each sort orders by what the row shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bmmsync.bot.planner import FlagState
from bmmsync.checking import check_store
from bmmsync.config.model_file import load_model
from bmmsync.config.settings import load_config
from bmmsync.domain import Ticket
from bmmsync.store.database import Store
from bmmsync.store.flag_repo import save_flags
from bmmsync.store.map_repo import sync_model
from bmmsync.store.ticket_repo import upsert_tickets
from bmmsync.trace.rules import MappingRules
from bmmsync.web.app import create_app
from bmmsync.web.storehandle import StoreHandle
from tests.cli.helpers import REPO

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TITLES = {
    "WEB-1": "Fix the login page",
    "WEB-2": "LOGIN times out",
    "WEB-3": "50% off_sale banner",
    "WEB-4": "<script>alert('x')</script> \"quoted\" AND NEAR(a b) *",
    "WEB-5": "Résumé upload",
    "WEB-6": "Plain work",
    "WEB-7": "ab",
    "WEB-8": "Logout " + "very long " * 300,
}


def _tickets(titles: dict[str, str]) -> list[Ticket]:
    return [
        Ticket(source="jira", key=key, title=title, project=key.split("-")[0], updated=NOW)
        for key, title in titles.items()
    ]


@pytest.fixture
def review(tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, Store]]:
    """A store of unlabelled (so broken) tickets, checked, and the dashboard over it."""
    store = Store.open(db_url)
    with store.session() as session:
        sync_model(session, load_model(REPO / "config" / "demo-model.yaml"), NOW)
        upsert_tickets(session, _tickets(TITLES), NOW)
        check_store(session, MappingRules(), NOW.date(), NOW)
    config = tmp_path / "bmmsync.yaml"
    model = REPO / "config" / "demo-model.yaml"
    config.write_text(f'store: {{url: "{db_url}"}}\nmodel_file: {model}\n')
    handle = StoreHandle(db_url)
    with TestClient(create_app(load_config(config), handle)) as client:
        yield client, store
    handle.close()
    store.close()


def _found(client: TestClient, text: str) -> set[str]:
    response = client.get("/api/review", params={"q": text})
    assert response.status_code == 200, response.text
    return {item["key"] for item in response.json()["results"]["items"]}


def _substring(titles: dict[str, str], text: str) -> set[str]:
    """What the filter must find: `text` in the title or key, ASCII case ignored."""
    needle = text.lower()
    return {
        key for key, title in titles.items() if needle in title.lower() or needle in key.lower()
    }


@pytest.mark.parametrize(
    "text",
    ["login", "LOGIN", "ogi", "50%", "%", "_", "off_sale", "f_s", "<script>", "</script>",
     '"quoted"', "'x'", "NEAR(a b)", "*", "AND", "résumé", "ab", "b", "web-3", "WEB",
     "long very long", "zzz", "' OR 1=1 --", '"', "\\", "%_%"],
)  # fmt: skip
def test_text_filter_finds_substrings_only(review: tuple[TestClient, Store], text: str) -> None:
    client, _store = review
    expected = _substring(TITLES, text)
    assert _found(client, text) == expected
    if text in ("login", "<script>", "zzz"):  # the cases that must and must not match
        assert expected == {"login": {"WEB-1", "WEB-2"}, "<script>": {"WEB-4"}, "zzz": set()}[text]


def test_text_index_follows_upserts(review: tuple[TestClient, Store]) -> None:
    client, store = review
    retitled = TITLES | {"WEB-1": "Fix the signup page", "WEB-6": "Plain login work"}
    with store.session() as session:
        upsert_tickets(session, _tickets(retitled), NOW + timedelta(hours=1))
    assert _found(client, "login") == {"WEB-2", "WEB-6"}
    assert _found(client, "signup") == {"WEB-1"}
    assert _found(client, "Fix the login") == set()


def _keys(client: TestClient, sort: str) -> list[str]:
    response = client.get("/api/review", params={"sort": sort})
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["results"]["items"]]


def test_sorts_follow_titles_projects_and_active_flags(review: tuple[TestClient, Store]) -> None:
    client, store = review
    by_title = sorted(TITLES, key=lambda k: (TITLES[k][:200], k))
    assert _keys(client, "title") == by_title
    assert _keys(client, "-title") == by_title[::-1]
    assert _keys(client, "project") == sorted(TITLES)
    assert _keys(client, "-project") == sorted(TITLES, reverse=True)
    flagged = {"WEB-5": NOW - timedelta(days=3), "WEB-2": NOW - timedelta(days=1)}
    with store.session() as session:
        save_flags(
            session,
            [(("jira", k), FlagState(reason="no-capability", flagged_at=at)) for k, at in
             flagged.items()]
            + [(("jira", "WEB-1"), FlagState(flagged_at=NOW - timedelta(days=9), cleared_at=NOW))],
            NOW,
        )  # fmt: skip
    items = client.get("/api/review", params={"sort": "-flagged_since"}).json()["results"]
    dated = [(i["key"], i["flagged_since"]) for i in items["items"] if i["flagged_since"]]
    assert dated == [
        ("WEB-2", flagged["WEB-2"].isoformat()),
        ("WEB-5", flagged["WEB-5"].isoformat()),
    ]
    ascending = _keys(client, "flagged_since")
    assert [k for k in ascending if k in flagged] == ["WEB-5", "WEB-2"]  # a cleared flag: no date
    since = client.get("/api/review", params={"flagged_since": date(2026, 11, 19).isoformat()})
    assert {i["key"] for i in since.json()["results"]["items"]} == {"WEB-2", "WEB-5"}
