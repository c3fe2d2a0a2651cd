"""The sync service with the real clients against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
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


def listing_calls(server: SandboxServer) -> list[dict]:
    return [
        r
        for r in requests_log(server)
        if (r["route"] or "")
        in (
            "/github/installation/repositories",
            "/github/orgs/{org}/repos",
            "/github/repos/{owner}/{repo}/issues",
        )
        or (r["route"] or "").endswith(("/search/jql", "/search"))
    ]


def test_first_sync_fills_the_store_with_every_demo_ticket(
    sandbox: SandboxServer, store: Store
) -> None:
    report = run(make_config(sandbox), store)

    assert report.ok, report.as_dict()
    web, platform = stored(store, "web"), stored(store, "platform")
    assert set(web) == sandbox_github_keys(sandbox) and web
    assert set(platform) == sandbox_jira_keys(sandbox) and platform
    summary = {s.name: s for s in report.sources}
    assert summary["web"].new == len(web) and summary["platform"].new == len(platform)
    assert summary["web"].full and summary["web"].rate_limit_left is not None
    # what the tracker says, field by field
    for key, ticket in web.items():
        repo, _, number = key.partition("#")
        issue = sandbox.state.gh_issue(repo, int(number))
        assert ticket.labels == tuple(issue.labels)
        assert ticket.closed == (issue.state == "closed")
        assert ticket.parent_key == issue.parent
        assert not ticket.is_pull_request
        assert ticket.project == repo
    for key, ticket in platform.items():
        issue = sandbox.state.data.jira_issues[key]
        assert ticket.fields["Capability"] == issue.capability
        assert ticket.parent_key == issue.parent
        assert ticket.story_points == issue.story_points
        assert ticket.type == issue.issuetype and ticket.title == issue.summary


def test_no_change_poll_is_one_request_per_listing_answered_304(
    sandbox: SandboxServer, store: Store
) -> None:
    config = make_config(sandbox)
    run(config, store)
    run(config, store)  # re-reads the overlap window once, storing the listing's ETag
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok
    calls = listing_calls(sandbox)
    github = [c for c in calls if c["path"].startswith("/github")]
    jira = [c for c in calls if c["path"].startswith("/jira")]
    # one 304 for the org's repository listing, one per repository
    assert [(c["path"], c["status"]) for c in github] == [
        ("/github/orgs/acme/repos", 304),
        ("/github/repos/acme/mobile/issues", 304),
        ("/github/repos/acme/web/issues", 304),
    ]
    assert len(jira) == 1
    web = next(s for s in report.sources if s.name == "web")
    assert (web.requests, web.not_modified, web.new, web.changed, web.fetched) == (3, 3, 0, 0, 0)
    platform = next(s for s in report.sources if s.name == "platform")
    assert platform.new == platform.changed == 0


def test_incremental_sync_sees_human_edits(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    config = make_config(sandbox)
    run(config, store)
    sandbox_control.github_change("acme/web", 1, add_labels=["cap:portal"], actor="alice")
    created = sandbox_control.github_create(repo="acme/mobile", title="New thing", actor="bob")
    sandbox_control.jira_change("PLAT-1", capability="observability", actor="alice")
    new_jira = sandbox_control.jira_create(project="PLAT", summary="Fresh", actor="alice")
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok
    web, platform = stored(store, "web"), stored(store, "platform")
    assert "cap:portal" in web["acme/web#1"].labels
    assert created["key"] in web
    assert (
        platform["PLAT-1"].fields["Capability"]
        == sandbox.state.data.jira_issues["PLAT-1"].capability
    )
    assert new_jira["key"] in platform
    summary = {s.name: s for s in report.sources}
    assert summary["web"].new == 1 and summary["web"].changed == 1
    assert summary["platform"].new == 1 and summary["platform"].changed == 1
    assert not summary["web"].full


def test_equal_timestamps_across_a_page_boundary_lose_nothing(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    sandbox_control.clock(pin="2030-01-01T10:00:00Z")
    for i in range(25):
        sandbox_control.github_create(repo="acme/web", title=f"same second {i}")
        sandbox_control.jira_create(project="PLAT", summary=f"same minute {i}")
    config = make_config(sandbox, overlap="0s", page_size=10)
    first = run(config, store)
    assert first.ok
    # One more at the very same instant: a strict `>` or a cursor past it would miss it.
    late_gh = sandbox_control.github_create(repo="acme/web", title="late, same second")
    late_jira = sandbox_control.jira_create(project="PLAT", summary="late, same minute")

    second = run(config, store)

    assert second.ok
    web, platform = stored(store, "web"), stored(store, "platform")
    assert late_gh["key"] in web and late_jira["key"] in platform
    assert set(web) == sandbox_github_keys(sandbox)
    assert set(platform) == sandbox_jira_keys(sandbox)
    summary = {s.name: s for s in second.sources}
    assert summary["web"].new == 1 and summary["web"].changed == 0
    assert summary["platform"].new == 1 and summary["platform"].changed == 0
    # re-read at the boundary, de-duplicated: each ticket counted once
    assert summary["web"].fetched == summary["web"].new + summary["web"].unchanged
    # acme/web's 26 same-second tickets, plus acme/mobile's newest re-read at its own cursor
    mobile = sandbox.state.repo("acme/mobile").issues.values()
    newest = max(i.updated for i in mobile)
    assert summary["web"].fetched == 26 + sum(1 for i in mobile if i.updated == newest)


def test_jira_user_time_zone_behind_utc(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    sandbox_control.config(jira_time_zone="America/Los_Angeles")
    config = make_config(sandbox, only="jira", overlap="1m")
    run(config, store)
    sandbox_control.jira_change("PLAT-2", summary="edited in Los Angeles", actor="alice")
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok
    assert stored(store, "platform")["PLAT-2"].title == "edited in Los Angeles"
    (search,) = listing_calls(sandbox)
    value = cursor(store, "platform", "jql").value
    la = datetime.fromisoformat(value).astimezone(ZoneInfo("America/Los_Angeles"))
    assert la.strftime("%Y-%m-%d") in search["query"].replace("+", " ")


def test_jira_server_mode_pages_with_start_at(
    sandbox_jira_server: SandboxServer, store: Store
) -> None:
    config = make_config(
        sandbox_jira_server,
        only="jira",
        jira={"deployment": None, "email": None, "token": "jira-bot-pat"},
        page_size=5,
    )
    report = run(config, store)

    assert report.ok, report.as_dict()
    platform = stored(store, "platform")
    assert set(platform) == sandbox_jira_keys(sandbox_jira_server)
    searches = listing_calls(sandbox_jira_server)
    assert all(c["path"] == "/jira/rest/api/2/search" for c in searches)
    assert len(searches) == math.ceil(len(platform) / 5)
    for key, ticket in platform.items():
        issue = sandbox_jira_server.state.data.jira_issues[key]
        assert ticket.parent_key == (issue.epic_link or issue.parent)


def test_more_than_a_thousand_tickets(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    sandbox_control.seed(2400)
    config = make_config(sandbox)
    clear_log(sandbox)

    report = run(config, store)

    assert report.ok
    web, platform = stored(store, "web"), stored(store, "platform")
    assert set(web) == sandbox_github_keys(sandbox) and len(web) >= 1000
    assert set(platform) == sandbox_jira_keys(sandbox) and len(platform) >= 1000
    gh_pages = [c for c in listing_calls(sandbox) if c["path"].startswith("/github")]
    repos = sandbox.state.data.repos.values()
    # one page of the org's repository listing, then each repository's issue pages
    assert len(gh_pages) == 1 + sum(math.ceil(len(r.issues) / 100) for r in repos)


def test_full_sync_marks_deleted_and_out_of_scope_tickets_gone(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    run(make_config(sandbox), store)
    sandbox_control.jira_delete("PLAT-3")
    # acme/mobile leaves the scope: only acme/web is polled from now on
    narrowed = make_config(sandbox, github={"orgs": [], "repos": ["acme/web"]})

    report = run(narrowed, store, full=True)

    assert report.ok
    assert "PLAT-3" not in stored(store, "platform")
    assert stored(store, "platform", include_gone=True)["PLAT-3"]
    web = stored(store, "web")
    assert web and all(k.startswith("acme/web#") for k in web)
    summary = {s.name: s for s in report.sources}
    mobile = [k for k in sandbox_github_keys(sandbox) if k.startswith("acme/mobile#")]
    assert summary["web"].gone == len(mobile) and summary["platform"].gone == 1


def test_periodic_full_sync_is_due_after_the_interval(sandbox: SandboxServer, store: Store) -> None:
    config = make_config(sandbox)
    assert all(s.full for s in run(config, store).sources)  # first sync is a full read
    assert not any(s.full for s in run(config, store).sources)
    due = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"full_sync_every": timedelta(0)})}
    )
    assert all(s.full for s in run(due, store).sources)


def test_source_filter_syncs_only_that_source(sandbox: SandboxServer, store: Store) -> None:
    report = run(make_config(sandbox), store, source="platform")
    assert [s.name for s in report.sources] == ["platform"]
    assert not stored(store, "web")


def test_rate_limit_exhausted_waits_for_the_reset_then_completes(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    sandbox_control.seed(900)  # ~450 GitHub issues: 5 pages
    sandbox_control.config(github_rate_limit=3)
    sleeper = Recorder(lambda seconds: sandbox.sandbox.limits.reset())

    report = run(make_config(sandbox, only="github"), store, sleep=sleeper)

    assert report.ok, report.as_dict()
    assert set(stored(store, "web")) == sandbox_github_keys(sandbox)
    assert sleeper.waits and max(sleeper.waits) > 3000  # until the hourly reset


def test_closed_dates_are_stored_and_cleared_on_reopen(
    sandbox: SandboxServer, sandbox_control, store: Store
) -> None:
    """GitHub `closed_at` and Jira `resolutiondate` land in the store, to the second."""
    config = make_config(sandbox)
    run(config, store)
    web, platform = stored(store, "web"), stored(store, "platform")

    def at(epoch: int | None) -> datetime | None:
        return None if epoch is None else datetime.fromtimestamp(epoch, UTC)

    closed_web = 0
    for key, ticket in web.items():
        repo, _, number = key.partition("#")
        issue = sandbox.state.gh_issue(repo, int(number))
        assert ticket.closed_at == (at(issue.closed_at) if issue.state == "closed" else None)
        closed_web += ticket.closed_at is not None
    closed_jira = 0
    for key, ticket in platform.items():
        issue = sandbox.state.data.jira_issues[key]
        assert ticket.closed_at == (at(issue.resolved) if issue.status == "Done" else None)
        closed_jira += ticket.closed_at is not None
    assert closed_web and closed_jira

    reopened = next(k for k, t in web.items() if t.closed_at is not None)
    repo, _, number = reopened.partition("#")
    sandbox_control.github_change(repo, int(number), state="open", actor="alice")
    done = next(k for k, t in platform.items() if t.closed_at is None)
    sandbox_control.jira_change(done, status="Done", actor="alice")
    run(config, store)

    assert stored(store, "web")[reopened].closed_at is None
    resolved = sandbox.state.data.jira_issues[done].resolved
    assert resolved is not None
    assert stored(store, "platform")[done].closed_at == at(resolved)
