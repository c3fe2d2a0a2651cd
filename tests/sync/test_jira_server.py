"""Jira Server/Data Center paging (`startAt` offsets, minute-resolution JQL) under the same
conditions as the Cloud tests: tickets sharing a timestamp across page boundaries, more than
1,000 issues, and a human edit that shifts the offsets while a sync is paging."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bmmsync.config.settings import Config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.sync import SourceSummary
from tests.sync.helpers import clear_log, make_config, requests_log, run, sandbox_jira_keys, stored

SEARCH = "/jira/rest/api/2/search"


def server_config(server: SandboxServer, **sync: Any) -> Config:
    return make_config(
        server,
        only="jira",
        jira={"deployment": "server", "email": None, "token": "jira-bot-pat"},
        **sync,
    )


def platform(report: Any) -> SourceSummary:
    return next(s for s in report.sources if s.name == "platform")


def searches(server: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in requests_log(server) if r["path"] == SEARCH]


def test_equal_timestamps_across_start_at_pages_lose_nothing(
    sandbox_jira_server: SandboxServer, store: Store
) -> None:
    control = SandboxControl(sandbox_jira_server.url)
    control.clock(pin="2030-01-01T10:00:00Z")
    for i in range(25):
        control.jira_create(project="PLAT", summary=f"same minute {i}")
    config = server_config(sandbox_jira_server, overlap="0s", page_size=10)
    assert run(config, store).ok
    late = control.jira_create(project="PLAT", summary="late, same minute")
    clear_log(sandbox_jira_server)

    second = run(config, store)

    assert second.ok, second.as_dict()
    assert late["key"] in stored(store, "platform")
    assert set(stored(store, "platform")) == sandbox_jira_keys(sandbox_jira_server)
    summary = platform(second)
    assert (summary.new, summary.changed) == (1, 0)
    # the whole minute is read again (26 tickets, 3 pages of 10), each counted once
    assert summary.fetched == summary.new + summary.unchanged == 26
    assert [r["query"].count("startAt=") for r in searches(sandbox_jira_server)] == [1, 1, 1]


def test_more_than_a_thousand_issues_page_with_start_at(
    sandbox_jira_server: SandboxServer, store: Store
) -> None:
    control = SandboxControl(sandbox_jira_server.url)
    control.seed(2400, jira_deployment="server")
    clear_log(sandbox_jira_server)

    report = run(server_config(sandbox_jira_server), store)

    assert report.ok, report.as_dict()
    keys = sandbox_jira_keys(sandbox_jira_server)
    assert len(keys) >= 1000 and set(stored(store, "platform")) == keys
    pages = searches(sandbox_jira_server)
    assert len(pages) == math.ceil(len(keys) / 100)
    starts = sorted(int(q.split("startAt=")[1].split("&")[0]) for q in (r["query"] for r in pages))
    # each page after the first starts on the last issue of the page before (its anchor)
    assert starts == [0, *range(99, len(keys) - 1, 100)]


class ChangeAfterFirstPage:
    """Progress hook: once the first page is stored, a human edits (or deletes) a ticket of
    that page, which leaves its place in the `updated` order and shifts later offsets by one."""

    def __init__(self, control: SandboxControl, key: str, change: str) -> None:
        self.control, self.key, self.change, self.pages = control, key, change, 0

    def started(self, source: str) -> None:
        pass

    def advanced(self, source: str, fetched: int) -> None:
        self.pages += 1
        if self.pages == 1:
            self.control.clock(advance=120)
            if self.change == "edit":
                self.control.jira_change(self.key, summary="edited while paging", actor="alice")
            else:
                self.control.jira_delete(self.key)

    def finished(self, summary: SourceSummary) -> None:
        pass


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_a_change_that_shifts_offsets_while_paging_skips_no_ticket(
    sandbox_jira_server: SandboxServer, store: Store, change: str
) -> None:
    control = SandboxControl(sandbox_jira_server.url)
    control.seed(60, jira_deployment="server")
    config = server_config(sandbox_jira_server, page_size=10)
    first_key = min(
        sandbox_jira_server.state.data.jira_issues.values(), key=lambda i: (i.updated, i.id)
    ).key

    report = run(config, store, progress=ChangeAfterFirstPage(control, first_key, change))

    assert report.ok, report.as_dict()
    assert set(stored(store, "platform")) - {first_key} == sandbox_jira_keys(
        sandbox_jira_server
    ) - {first_key}
    if change == "edit":
        assert stored(store, "platform")[first_key].title == "edited while paging"
    # and the next incremental run, from the saved cursor, still has nothing to catch up on
    again = run(config, store)
    assert again.ok and platform(again).new == 0
