"""`orgs:` sources list the org's repositories and poll each one, with App auth and with a
token, against a sandbox that refuses `/orgs/{org}/issues` to App installations as GitHub
does. What is judged: the requests the sandbox received and what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException

from bmmsync.config.settings import Config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.sandbox.state import GITHUB_APP_ID, GITHUB_APP_INSTALLATION
from bmmsync.store.database import Store
from bmmsync.sync import SourceSummary
from tests.connectors.helpers import app_config, app_key
from tests.sync.helpers import clear_log, make_config, requests_log, run, stored

POLL = "/github/repos/{owner}/{repo}/issues"
LISTINGS = ("/github/installation/repositories", "/github/orgs/{org}/repos")


def github_calls(server: SandboxServer) -> list[tuple[str, int]]:
    """(path, status) of every listing and issue poll, in order."""
    return [
        (r["path"], r["status"])
        for r in requests_log(server)
        if (r["route"] or "") in (*LISTINGS, POLL) or r["path"].endswith("/issues")
    ]


def web(report: Any) -> SourceSummary:
    return next(s for s in report.sources if s.name == "web")


def keys_of(server: SandboxServer, *repos: str) -> set[str]:
    return {
        issue.key
        for name in repos
        for issue in server.state.repo(name).issues.values()
        if not issue.is_pr
    }


def token_config(server: SandboxServer) -> Config:
    return make_config(server, only="github")


@pytest.fixture(params=["app", "token"])
def config(request: Any, sandbox: SandboxServer, tmp_path: Path) -> Config:
    if request.param == "app":
        return app_config(sandbox, tmp_path)
    return token_config(sandbox)


def test_an_installation_token_gets_githubs_403_on_org_issues(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    pem = app_key(tmp_path).read_text()
    auth = Auth.AppAuth(GITHUB_APP_ID, pem).get_installation_auth(GITHUB_APP_INSTALLATION)
    gh = Github(base_url=sandbox.github_url, auth=auth, retry=None)

    with pytest.raises(GithubException) as refused:
        gh.requester.requestJsonAndCheck("GET", "/orgs/acme/issues", {"filter": "all"})

    assert refused.value.status == 403
    assert refused.value.data == {
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/issues/issues"
        "#list-organization-issues-assigned-to-the-authenticated-user",
        "status": "403",
    }
    _, listing = gh.requester.requestJsonAndCheck("GET", "/installation/repositories")
    assert [r["full_name"] for r in listing["repositories"]] == ["acme/mobile", "acme/web"]
    bot = Github(base_url=sandbox.github_url, auth=Auth.Token("bot-token"), retry=None)
    with pytest.raises(GithubException) as not_an_app:
        bot.requester.requestJsonAndCheck("GET", "/installation/repositories")
    assert not_an_app.value.status == 403


def test_org_source_lists_repositories_and_polls_each(
    sandbox: SandboxServer, store: Store, config: Config
) -> None:
    report = run(config, store)

    assert report.ok, report.as_dict()
    assert set(stored(store, "web")) == keys_of(sandbox, "acme/web", "acme/mobile")
    calls = github_calls(sandbox)
    listing = "/github/installation/repositories" if config.sources[0].token is None else None
    listing = listing or "/github/orgs/acme/repos"
    assert calls == [
        (listing, 200),
        ("/github/repos/acme/mobile/issues", 200),
        ("/github/repos/acme/web/issues", 200),
    ]


def test_a_no_change_poll_is_one_304_per_listing_and_per_repository(
    sandbox: SandboxServer, store: Store, config: Config
) -> None:
    run(config, store)
    run(config, store)  # re-reads each repository's overlap window once, keeping its ETag
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok
    assert [status for _, status in github_calls(sandbox)] == [304, 304, 304]
    assert (web(report).requests, web(report).not_modified, web(report).fetched) == (3, 3, 0)


def test_a_new_repository_is_picked_up_at_the_next_listing(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store, config: Config
) -> None:
    run(config, store)
    run(config, store)
    sandbox_control.github_create_repo("acme", "docs")
    new = sandbox_control.github_create(repo="acme/docs", title="Write the guide")
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok, report.as_dict()
    assert new["key"] in stored(store, "web") and web(report).new == 1
    calls = dict(github_calls(sandbox))
    assert calls["/github/repos/acme/docs/issues"] == 200
    assert calls["/github/repos/acme/web/issues"] == 304


def test_a_repository_the_app_loses_keeps_its_tickets_and_is_reported(
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = app_config(sandbox, tmp_path)
    run(config, store)
    mobile = keys_of(sandbox, "acme/mobile")
    sandbox_control.config(github_app_repositories=["acme/web"])
    clear_log(sandbox)

    lost = run(config, store, full=True)  # a full sync would mark unseen tickets gone

    assert lost.ok, lost.as_dict()
    assert web(lost).lost == ["acme/mobile"] and web(lost).gone == 0
    assert mobile <= set(stored(store, "web"))
    assert "/github/repos/acme/mobile/issues" not in dict(github_calls(sandbox))
    assert any(
        "no longer reachable" in r.getMessage() and getattr(r, "project", "") == "acme/mobile"
        for r in caplog.records
    )
    again = run(config, store, full=True)  # the listing answers 304: still reported, still kept
    assert web(again).lost == ["acme/mobile"] and mobile <= set(stored(store, "web"))

    sandbox_control.config(github_app_repositories=None)
    back = run(config, store)

    assert back.ok and web(back).lost == []
    assert dict(github_calls(sandbox))["/github/repos/acme/mobile/issues"] == 200


def test_a_repository_refused_between_listing_and_poll_is_lost_not_fatal(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store, config: Config
) -> None:
    run(config, store)
    sandbox_control.fault("/github/repos/acme/mobile/issues", 404, method="GET")
    sandbox_control.github_create(repo="acme/web", title="still synced")

    report = run(config, store, full=True)

    assert report.ok, report.as_dict()
    assert web(report).lost == ["acme/mobile"] and web(report).gone == 0
    assert keys_of(sandbox, "acme/web", "acme/mobile") == set(stored(store, "web"))


def test_a_listing_of_several_pages_is_read_whole_at_each_poll(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    for i in range(100):  # with acme/web and acme/mobile: 102 repositories, two pages
        sandbox_control.github_create_repo("acme", f"r{i:03}")
    last = sandbox_control.github_create(repo="acme/r099", title="on the second page?")
    config = token_config(sandbox)
    run(config, store)
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok, report.as_dict()
    assert last["key"] in stored(store, "web")
    listing = [s for p, s in github_calls(sandbox) if p == "/github/orgs/acme/repos"]
    polls = [p for p, _ in github_calls(sandbox) if p.startswith("/github/repos/")]
    # a 304 on page 1 would say nothing of page 2: both pages are read, every repo polled
    assert listing == [200, 200] and len(polls) == 102


def test_an_org_the_app_reaches_nothing_of_is_an_error_that_names_it(
    sandbox: SandboxServer, store: Store, tmp_path: Path
) -> None:
    config = app_config(sandbox, tmp_path)
    source = config.sources[0].model_copy(update={"orgs": ["acme", "elsewhere"]})
    config = config.model_copy(update={"sources": [source]})

    report = run(config, store)

    error = str(web(report).error)
    assert "org elsewhere" in error and "is the App installed on elsewhere" in error
    assert keys_of(sandbox, "acme/web", "acme/mobile") == set(stored(store, "web"))
