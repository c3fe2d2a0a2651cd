"""Bad input and fault injection: each error class is reported with its source's name, the
run finishes, the other source syncs, and the cursor never moves past data not stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.models import SourceRow
from bmmsync.sync import SourceSummary
from connectors.base import ConnectorOptions, Cursor
from connectors.jira import JiraConnector
from connectors.paging import RepeatedPageToken
from tests.sync.helpers import (
    Recorder,
    clear_log,
    cursor,
    make_config,
    requests_log,
    run,
    sandbox_github_keys,
    sandbox_jira_keys,
    stored,
)

GH_LISTING = "/github/orgs/acme/repos"
GH_ISSUES = "/github/repos/acme/"
JIRA_SEARCH = "/jira/rest/api/3/search/jql"


def by_name(report: Any) -> dict[str, SourceSummary]:
    return {s.name: s for s in report.sources}


@pytest.mark.parametrize("status", ["500", "502", "503", "429", "timeout"])
def test_retriable_faults_are_retried_and_the_run_completes(
    sandbox: SandboxServer, sandbox_control: Any, store: Store, status: str
) -> None:
    sandbox_control.config(timeout_seconds=3)
    sandbox_control.fault(GH_LISTING, status)
    sandbox_control.fault(JIRA_SEARCH, status)
    sleeper = Recorder()

    report = run(make_config(sandbox), store, sleep=sleeper, timeout=1.0)

    assert report.ok, report.as_dict()
    assert set(stored(store, "web")) == sandbox_github_keys(sandbox)
    assert set(stored(store, "platform")) == sandbox_jira_keys(sandbox)
    assert len(sleeper.waits) == 2  # one back-off per source
    listings = [r for r in requests_log(sandbox) if r["path"] in (GH_LISTING, JIRA_SEARCH)]
    assert sorted(r["path"] for r in listings if r["status"] == 200) == [GH_LISTING, JIRA_SEARCH]


def test_persistent_5xx_fails_that_source_only(
    sandbox: SandboxServer, sandbox_control: Any, store: Store
) -> None:
    sandbox_control.fault("/jira/", 503, count=100)

    report = run(make_config(sandbox), store)

    summary = by_name(report)
    assert not report.ok and summary["web"].ok
    assert "source 'platform'" in str(summary["platform"].error)
    assert "gave up after 5 attempts" in str(summary["platform"].error)
    assert stored(store, "web") and not stored(store, "platform")
    with store.session() as session:
        row = session.get(SourceRow, "platform")
        assert row is not None and row.last_result == "failed" and row.last_error
        assert session.get(SourceRow, "web").last_result == "ok"  # type: ignore[union-attr]


class FaultAfterFirstPage:
    """Progress hook: once the first page of `source` is stored, break the next ones."""

    def __init__(self, control: Any, source: str, route: str, status: str) -> None:
        self.control, self.source, self.route, self.status = control, source, route, status
        self.pages = 0

    def started(self, source: str) -> None:
        pass

    def advanced(self, source: str, fetched: int) -> None:
        if source == self.source:
            self.pages += 1
            if self.pages == 1:
                self.control.fault(self.route, self.status, count=100)

    def finished(self, summary: SourceSummary) -> None:
        pass


@pytest.mark.parametrize("status", ["malformed", "truncated"])
@pytest.mark.parametrize(("source", "route"), [("web", GH_ISSUES), ("platform", JIRA_SEARCH)])
def test_broken_page_keeps_what_was_stored_and_the_cursor_honest(
    sandbox: SandboxServer,
    sandbox_control: Any,
    store: Store,
    status: str,
    source: str,
    route: str,
) -> None:
    config = make_config(sandbox, page_size=10)
    hook = FaultAfterFirstPage(sandbox_control, source, route, status)
    stream = "org:acme/mobile" if source == "web" else "jql"  # mobile is polled first

    report = run(config, store, progress=hook)

    summary = by_name(report)
    assert not summary[source].ok and "malformed" in str(summary[source].error)
    assert f"source {source!r}" in str(summary[source].error)
    other = "platform" if source == "web" else "web"
    assert summary[other].ok
    first_page = stored(store, source)
    assert len(first_page) == 10
    saved = cursor(store, source, stream).value
    assert saved is not None
    saved_at = datetime.fromisoformat(saved.replace("Z", "+00:00"))
    # The next run, with the tracker healthy again, stores everything.
    sandbox.sandbox.faults.clear()
    assert run(config, store).ok
    expected = sandbox_github_keys(sandbox) if source == "web" else sandbox_jira_keys(sandbox)
    everything = stored(store, source)
    assert set(everything) == expected
    # the cursor never moved past a ticket that was not stored yet
    later = [
        t.updated
        for k, t in everything.items()
        if k not in first_page and t.updated and (source != "web" or k.startswith("acme/mobile#"))
    ]
    assert saved_at <= min(later)


@pytest.mark.parametrize("source", ["web", "platform"])
def test_bad_token_is_fatal_names_the_setting_not_the_token(
    sandbox: SandboxServer, store: Store, source: str
) -> None:
    overrides = {"token": "wrong-secret-token-123"}
    config = make_config(
        sandbox,
        github=overrides if source == "web" else None,
        jira=overrides if source == "platform" else None,
    )
    sleeper = Recorder()

    report = run(config, store, sleep=sleeper)

    error = str(by_name(report)[source].error)
    assert "access denied" in error and "401" in error
    assert f"token` of source {source!r}" in error
    assert "wrong-secret-token-123" not in error
    assert not sleeper.waits  # a 401 is never retried
    other = "platform" if source == "web" else "web"
    assert by_name(report)[other].ok and stored(store, other)


def test_unknown_org_and_repo_are_reported_and_known_ones_sync(
    sandbox: SandboxServer, store: Store
) -> None:
    config = make_config(
        sandbox, github={"orgs": ["acme", "nosuchorg"], "repos": ["ghost/nothing"]}
    )

    report = run(config, store)

    error = str(by_name(report)["web"].error)
    assert "org nosuchorg" in error and "repo ghost/nothing" in error and "404" in error
    assert set(stored(store, "web")) == sandbox_github_keys(sandbox)


def test_jql_syntax_error_shows_jiras_message_and_stores_nothing(
    sandbox: SandboxServer, store: Store
) -> None:
    report = run(make_config(sandbox, jira={"jql": "project = = PLAT"}), store)

    error = str(by_name(report)["platform"].error)
    assert "HTTP 400" in error and "source 'platform'" in error
    assert not stored(store, "platform") and by_name(report)["web"].ok


def test_null_body_and_labels_and_a_deleted_parent(
    sandbox: SandboxServer, sandbox_control: Any, store: Store
) -> None:
    bare = sandbox_control.github_create(repo="acme/web", title="bare", body=None, labels=[])
    epic = sandbox_control.jira_create(project="PLAT", summary="epic", issuetype="Epic")
    child = sandbox_control.jira_create(project="PLAT", summary="child", parent=epic["key"])
    sandbox_control.jira_delete(epic["key"])

    report = run(make_config(sandbox), store)

    assert report.ok, report.as_dict()
    assert stored(store, "web")[bare["key"]].labels == ()
    assert stored(store, "platform")[child["key"]].parent_key == epic["key"]


class RepeatingSearch(BaseAdapter):
    """A Jira Cloud that hands back the same nextPageToken forever."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.url = request.url or ""
        response.headers["Content-Type"] = "application/json"
        if "/field" in response.url:
            response._content = b"[]"
        else:
            response._content = b'{"issues": [], "isLast": false, "nextPageToken": "same"}'
        return response

    def close(self) -> None:
        pass


def test_a_repeated_page_token_stops_with_an_error(sandbox: SandboxServer) -> None:
    config = make_config(sandbox, only="jira", jira={"url": "http://jira.invalid"})
    source = config.sources[0]
    connector = JiraConnector(source, ConnectorOptions(capability_field=None))  # type: ignore[arg-type]
    connector._jira._session.mount("http://jira.invalid", RepeatingSearch())
    object.__setattr__(source, "capability_field", None)

    with pytest.raises(RepeatedPageToken, match="repeated page token 'same'"):
        list(connector.read("jql", Cursor()))
    assert connector.stats.requests == 3  # /field, page 1, page 2 (same token): stop


def test_clear_log_helper_is_used(sandbox: SandboxServer) -> None:
    clear_log(sandbox)
    assert requests_log(sandbox) == []
