"""Write primitives for the bot, with the real clients against the sandbox: each one is
idempotent, and the sandbox holds exactly what was asked."""

from __future__ import annotations

from typing import Any

import pytest

from bmmsync.sandbox.server import SandboxServer
from connectors.base import CommentTooLong, ConnectorOptions, marker_tag
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from tests.sync.helpers import Recorder, clear_log, make_config, requests_log

KEY = "acme/web#1"


def github(server: SandboxServer, sleeper: Any = None, interval: float = 0) -> GitHubConnector:
    source = make_config(server, only="github").sources[0]
    options = ConnectorOptions(write_interval=interval, sleep=sleeper or Recorder(), timeout=30)
    return GitHubConnector(source, options)  # type: ignore[arg-type]


def jira(server: SandboxServer, deployment: str) -> JiraConnector:
    auth: dict[str, Any] = {"deployment": deployment}
    if deployment == "server":
        auth |= {"email": None, "token": "jira-bot-pat"}
    source = make_config(server, only="jira", jira=auth).sources[0]
    options = ConnectorOptions(write_interval=0, sleep=Recorder(), timeout=30)
    return JiraConnector(source, options)  # type: ignore[arg-type]


def test_github_labels_are_idempotent(sandbox: SandboxServer) -> None:
    gh = github(sandbox)
    gh.ensure_label("acme/web", "trace-broken", "#d73a4a", "No link to the strategy map")
    gh.ensure_label("acme/web", "trace-broken", "d73a4a", "No link to the strategy map")
    label = sandbox.state.repo("acme/web").labels["trace-broken"]
    assert (label.color, label.description) == ("d73a4a", "No link to the strategy map")

    gh.add_label(KEY, "trace-broken")
    gh.add_label(KEY, "trace-broken")
    assert sandbox.state.gh_issue("acme/web", 1).labels.count("trace-broken") == 1

    gh.remove_label(KEY, "trace-broken")
    gh.remove_label(KEY, "trace-broken")  # 404: already done
    assert "trace-broken" not in sandbox.state.gh_issue("acme/web", 1).labels


def test_github_comment_lifecycle_with_hidden_marker(sandbox: SandboxServer) -> None:
    gh = github(sandbox)
    assert gh.comment_format == "markdown"
    ref = gh.create_comment(KEY, "**Trace broken**: add a `cap:` label.", "flag")
    issue = sandbox.state.gh_issue("acme/web", 1)
    (comment,) = [c for c in sandbox.state.gh_issue_comments(issue) if str(c.id) == ref.id]
    assert marker_tag("flag") in comment.body and comment.user == "bmmsync-bot"

    assert gh.find_comment(KEY, "flag") == ref
    assert gh.find_comment(KEY, "other") is None

    gh.update_comment(KEY, ref.id, "Fixed, thanks.", "flag")
    comment = sandbox.state.gh_comment("acme/web", int(ref.id))
    assert comment.body.startswith("Fixed, thanks.") and marker_tag("flag") in comment.body

    gh.delete_comment(KEY, ref.id)
    gh.delete_comment(KEY, ref.id)  # 404: already done
    assert gh.find_comment(KEY, "flag") is None


def test_github_comment_too_long_is_refused_before_any_request(sandbox: SandboxServer) -> None:
    gh = github(sandbox)
    clear_log(sandbox)
    with pytest.raises(CommentTooLong, match="65536"):
        gh.create_comment(KEY, "x" * 65_530, "flag")
    assert requests_log(sandbox) == []


def test_github_close_and_reopen(sandbox: SandboxServer) -> None:
    gh = github(sandbox)
    gh.close(KEY, "not_planned")
    issue = sandbox.state.gh_issue("acme/web", 1)
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    gh.transition(KEY, "open")
    assert sandbox.state.gh_issue("acme/web", 1).state == "open"


def test_github_writes_are_spaced_and_secondary_limits_honoured(
    sandbox: SandboxServer, sandbox_control: Any
) -> None:
    sandbox_control.config(github_secondary_limit=1, github_secondary_retry_after=7)
    sleeper = Recorder(lambda seconds: seconds == 7 and sandbox.sandbox.limits.reset())
    gh = github(sandbox, sleeper, interval=1.0)

    gh.add_label(KEY, "a")
    gh.add_label(KEY, "b")  # refused once by the secondary limit, then accepted

    assert {"a", "b"} <= set(sandbox.state.gh_issue("acme/web", 1).labels)
    assert any(0 < w <= 1.0 for w in sleeper.waits)  # the write interval
    assert 7 in sleeper.waits  # retry-after


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_jira_labels_and_comments(
    sandbox_server: SandboxServer, deployment: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("sandbox" if deployment == "cloud" else "sandbox_jira_server")
    client = jira(server, deployment)
    assert client.comment_format == ("adf" if deployment == "cloud" else "jira-wiki")
    clear_log(server)
    client.ensure_label("PLAT", "trace-broken", "d73a4a", "")
    assert requests_log(server) == []  # Jira labels need no creating

    client.add_label("PLAT-1", "trace-broken")
    client.add_label("PLAT-1", "trace-broken")
    assert server.state.data.jira_issues["PLAT-1"].labels.count("trace-broken") == 1
    client.remove_label("PLAT-1", "trace-broken")
    client.remove_label("PLAT-1", "trace-broken")
    assert "trace-broken" not in server.state.data.jira_issues["PLAT-1"].labels

    server.state.jira_add_comment(server.state.data.jira_issues["PLAT-1"], "human", "alice")
    ref = client.create_comment("PLAT-1", "Trace broken.\n\nAdd a capability.", "flag")
    stored = server.state.data.jira_comments[int(ref.id)]
    assert stored.properties["bmmsync"] == {"marker": "flag"}
    assert "bmmsync" not in stored.text  # the marker is invisible
    if deployment == "cloud":
        assert stored.adf is not None and stored.adf["type"] == "doc"
    assert client.find_comment("PLAT-1", "flag") == ref
    assert client.find_comment("PLAT-1", "other") is None

    client.update_comment("PLAT-1", ref.id, "Fixed.", "flag")
    assert "Fixed." in server.state.data.jira_comments[int(ref.id)].text
    client.delete_comment("PLAT-1", ref.id)
    client.delete_comment("PLAT-1", ref.id)
    assert client.find_comment("PLAT-1", "flag") is None

    with pytest.raises(CommentTooLong, match="32767"):
        client.create_comment("PLAT-1", "x" * 40_000, "flag")


def test_jira_transition_and_close_are_idempotent(sandbox: SandboxServer) -> None:
    client = jira(sandbox, "cloud")
    client.transition("PLAT-1", "In Progress")
    client.transition("PLAT-1", "in progress")
    assert sandbox.state.data.jira_issues["PLAT-1"].status == "In Progress"
    client.close("PLAT-1", "Won't do")
    client.close("PLAT-1", "Won't do")
    assert sandbox.state.data.jira_issues["PLAT-1"].status == "Done"


def test_fetch_one_ticket(sandbox: SandboxServer) -> None:
    assert github(sandbox).fetch(KEY) is not None
    assert github(sandbox).fetch("acme/web#99999") is None
    client = jira(sandbox, "cloud")
    ticket = client.fetch("PLAT-1")
    assert ticket is not None and ticket.key == "PLAT-1"
    assert client.fetch("PLAT-99999") is None
