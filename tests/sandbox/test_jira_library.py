"""The real `jira` library against the sandbox, Cloud (basic auth) and Server (PAT)."""

from __future__ import annotations

import pytest
from jira import JIRA, JIRAError

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer


@pytest.fixture
def cloud(sandbox: SandboxServer) -> JIRA:
    return JIRA(
        server=sandbox.jira_url, basic_auth=("bot@example.com", "jira-bot-token"), max_retries=0
    )


@pytest.fixture
def server(sandbox_jira_server: SandboxServer) -> JIRA:
    return JIRA(server=sandbox_jira_server.jira_url, token_auth="jira-bot-pat", max_retries=0)


def test_server_info_and_fields_on_cloud(cloud: JIRA) -> None:
    assert cloud.server_info()["deploymentType"] == "Cloud"
    names = {f["name"]: f["id"] for f in cloud.fields()}
    assert names["Capability"] == "customfield_10010"
    assert names["Story Points"] == "customfield_10016"
    assert "Epic Link" not in names
    assert cloud.myself()["accountId"] == "557058:bmmsync-bot"


def test_server_info_and_fields_on_server(server: JIRA) -> None:
    assert server.server_info()["deploymentType"] == "Server"
    assert {f["name"] for f in server.fields()} >= {"Capability", "Story Points", "Epic Link"}
    assert server.myself()["name"] == "bmmsync-bot"


def test_enhanced_search_pages_with_tokens(cloud: JIRA, sandbox_control: SandboxControl) -> None:
    jql = "project = PLAT ORDER BY updated ASC, key ASC"
    first = cloud.enhanced_search_issues(jql, maxResults=5)
    assert len(first) == 5 and first.nextPageToken
    everything = cloud.enhanced_search_issues(jql, maxResults=0)
    assert len(everything) == 22  # PLAT-17 was deleted
    updated = [i.fields.updated for i in everything]
    assert updated == sorted(updated)
    portal = next(i for i in everything if i.key == "PLAT-1")
    assert portal.fields.customfield_10010.value == "self-service-portal"
    assert next(i for i in everything if i.key == "PLAT-2").fields.parent.key == "PLAT-1"
    counts = sandbox_control.requests()["counts"]
    # one page of 5, then maxResults=0 reads everything in pages of 100: one more request
    assert counts["GET /jira/rest/api/{version}/search/jql"] == 2


def test_search_ids_only_by_default(sandbox: SandboxServer) -> None:
    import httpx

    r = httpx.get(
        f"{sandbox.jira_url}/rest/api/3/search/jql",
        params={"jql": "project = PLAT", "maxResults": 3},
        auth=("bot@example.com", "jira-bot-token"),
    )
    body = r.json()
    assert r.status_code == 200
    assert body["issues"] == [{"id": i["id"]} for i in body["issues"]]
    assert set(body) == {"issues", "isLast", "nextPageToken"} and body["isLast"] is False


def test_server_search_issues_with_start_at(server: JIRA) -> None:
    page = server.search_issues("project = PLAT ORDER BY key ASC", startAt=20, maxResults=5)
    assert [i.key for i in page] == ["PLAT-22", "PLAT-23"]
    assert page.total == 22
    story = server.issue("PLAT-2")
    assert story.fields.customfield_10014 == "PLAT-1"  # Epic Link on Server
    assert getattr(story.fields, "parent", None) is None


def test_add_comment_and_update_it(cloud: JIRA, sandbox_control: SandboxControl) -> None:
    comment = cloud.add_comment("PLAT-10", "This ticket has no capability. {noformat}x{noformat}")
    assert comment.author.accountId == "557058:bmmsync-bot"
    stored = sandbox_control.jira_issue("PLAT-10")["comments"]
    assert [c["body"] for c in stored] == [comment.body]
    comment.update(body="Still no capability.")
    assert comment.body == "Still no capability."
    assert sandbox_control.jira_issue("PLAT-10")["comments"][0]["body"] == "Still no capability."


def test_issue_update_labels(cloud: JIRA, sandbox_control: SandboxControl) -> None:
    issue = cloud.issue("PLAT-10")
    before = sandbox_control.jira_issue("PLAT-10")["updated"]
    issue.update(fields={"labels": ["bmmsync-untraced"]})
    assert issue.fields.labels == ["bmmsync-untraced"]
    issue.update(update={"labels": [{"add": "needs-review"}]})
    stored = sandbox_control.jira_issue("PLAT-10")
    assert stored["labels"] == ["bmmsync-untraced", "needs-review"]
    assert stored["updated"] >= before
    issue.update(update={"labels": [{"remove": "needs-review"}]})
    assert sandbox_control.jira_issue("PLAT-10")["labels"] == ["bmmsync-untraced"]


def test_labels_with_spaces_are_refused(cloud: JIRA) -> None:
    with pytest.raises(JIRAError) as err:
        cloud.issue("PLAT-10").update(fields={"labels": ["two words"]})
    assert err.value.status_code == 400


def test_removed_search_answers_410_on_cloud(sandbox: SandboxServer) -> None:
    import httpx

    for version in ("2", "3"):
        r = httpx.get(
            f"{sandbox.jira_url}/rest/api/{version}/search",
            params={"jql": "project = PLAT"},
            auth=("bot@example.com", "jira-bot-token"),
        )
        assert r.status_code == 410
        assert "migrate to the /rest/api/3/search/jql API" in r.json()["errorMessages"][0]


def test_bad_credentials(sandbox: SandboxServer) -> None:
    with pytest.raises(JIRAError) as err:
        JIRA(server=sandbox.jira_url, basic_auth=("bot@example.com", "wrong"), max_retries=0)
    assert err.value.status_code == 401
