"""The real PyGithub against the sandbox: each call checks the returned objects and the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from github import Auth, Github, GithubException

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer


@pytest.fixture
def gh(sandbox: SandboxServer) -> Github:
    return Github(
        base_url=sandbox.github_url,
        auth=Auth.Token("bot-token"),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def test_get_repo_and_issue(gh: Github, sandbox_control: SandboxControl) -> None:
    repo = gh.get_repo("acme/web")
    assert repo.full_name == "acme/web"
    issue = repo.get_issue(1)
    assert issue.title == "Self-service portal: account page"
    assert [label.name for label in issue.labels] == ["cap:self-service-portal", "enhancement"]
    assert issue.raw_data["type"]["name"] == "Feature"
    # web#2, web#3 (closed) and the cross-repo sub-issue mobile#14
    assert issue.raw_data["sub_issues_summary"] == {
        "total": 3,
        "completed": 1,
        "percent_completed": 33,
    }
    assert sandbox_control.github_issue("acme/web", 1)["title"] == issue.title


def test_get_issues_with_since_pages_and_includes_pull_requests(
    gh: Github, sandbox: SandboxServer
) -> None:
    repo = gh.get_repo("acme/web")
    everything = list(repo.get_issues(state="all", sort="updated", direction="asc"))
    assert len(everything) == len(sandbox.state.repo("acme/web").issues)
    assert [i.updated_at for i in everything] == sorted(i.updated_at for i in everything)
    assert any(i.pull_request is not None for i in everything)
    cut = datetime.now(UTC) - timedelta(days=3)
    recent = list(repo.get_issues(state="all", since=cut))
    assert recent and all(i.updated_at >= cut.replace(microsecond=0) for i in recent)
    assert len(recent) < len(everything)


def test_pagination_follows_link_headers(gh: Github, sandbox_control: SandboxControl) -> None:
    gh.per_page = 5
    numbers = [i.number for i in gh.get_repo("acme/web").get_issues(state="all")]
    assert sorted(numbers) == list(range(1, 24))
    pages = sandbox_control.requests()["counts"]["GET /github/repos/{owner}/{repo}/issues"]
    assert pages == 5


def test_comments_create_list_edit(gh: Github, sandbox_control: SandboxControl) -> None:
    issue = gh.get_repo("acme/web").get_issue(9)
    before = issue.updated_at
    comment = issue.create_comment("<!-- bmmsync:flag -->\nThis ticket needs a capability.")
    assert comment.user.login == "bmmsync-bot"
    assert [c.id for c in issue.get_comments()] == [comment.id]
    comment.edit("<!-- bmmsync:flag -->\nStill missing.")
    assert comment.body.endswith("Still missing.")
    stored = sandbox_control.github_issue("acme/web", 9)
    assert stored["comment_list"][0]["body"].endswith("Still missing.")
    assert stored["comments"] == 1
    assert gh.get_repo("acme/web").get_issue(9).updated_at >= before


def test_add_and_remove_labels(gh: Github, sandbox_control: SandboxControl) -> None:
    issue = gh.get_repo("acme/mobile").get_issue(7)
    issue.add_to_labels("bmmsync:untraced")
    assert "bmmsync:untraced" in [lab.name for lab in issue.get_labels()]
    assert sandbox_control.github_issue("acme/mobile", 7)["labels"] == ["bug", "bmmsync:untraced"]
    issue.remove_from_labels("bmmsync:untraced")
    assert sandbox_control.github_issue("acme/mobile", 7)["labels"] == ["bug"]
    with pytest.raises(GithubException) as err:
        issue.remove_from_labels("bmmsync:untraced")
    assert err.value.status == 404
    assert err.value.data["message"] == "Label does not exist"


def test_repo_labels_list_and_create(gh: Github, sandbox_control: SandboxControl) -> None:
    repo = gh.get_repo("acme/web")
    assert "CAP:Guided-Setup" in [lab.name for lab in repo.get_labels()]
    label = repo.create_label("bmmsync:untraced", "b60205", "No trace to strategy")
    assert (label.name, label.color) == ("bmmsync:untraced", "b60205")
    stored = sandbox_control.state(repo="acme/web")["github"]["acme/web"]["labels"]
    assert {
        "name": "bmmsync:untraced",
        "color": "b60205",
        "description": "No trace to strategy",
    } in stored
    with pytest.raises(GithubException) as err:
        repo.create_label("bmmsync:untraced", "b60205")
    assert err.value.status == 422


def test_organization_issues_and_edit_state(gh: Github, sandbox_control: SandboxControl) -> None:
    org = gh.get_organization("acme")
    issues = list(org.get_issues(filter="all", state="all"))
    assert {i.repository.full_name for i in issues} == {"acme/web", "acme/mobile"}
    assert len(issues) == 23 + 16
    issue = gh.get_repo("acme/web").get_issue(9)
    issue.edit(state="closed", state_reason="not_planned")
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    stored = sandbox_control.github_issue("acme/web", 9)
    assert (stored["state"], stored["closed_by"]) == ("closed", "bmmsync-bot")
    issue.edit(state="open")
    assert sandbox_control.github_issue("acme/web", 9)["state_reason"] == "reopened"


def test_authenticated_user_is_a_bot(gh: Github) -> None:
    me = gh.get_user()
    assert (me.login, me.type) == ("bmmsync-bot", "Bot")
