"""Raw HTTP behaviour: ETags, time zones, faults, limits, bad input, the control API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer

BOT = {"Authorization": "token bot-token"}
JIRA_BOT = ("bot@example.com", "jira-bot-token")


def sandbox_url(http: httpx.Client) -> str:
    return str(http.base_url).rstrip("/")


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def test_etag_gives_304_that_is_not_counted(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    first = http.get("/github/repos/acme/web/issues", headers=BOT)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = http.get("/github/repos/acme/web/issues", headers=BOT | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    alice = http.get(
        "/github/repos/acme/web/issues",
        headers={"Authorization": "Bearer alice-token", "If-None-Match": etag},
    )
    assert alice.status_code == 200  # ETags are per token
    sandbox_control.github_change("acme/web", 23, add_labels=["needs-review"], actor="bob")
    changed = http.get("/github/repos/acme/web/issues", headers=BOT | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert sandbox_control.requests()["not_modified"] == 1


def test_human_change_moves_updated_at(http: httpx.Client, sandbox_control: SandboxControl) -> None:
    sandbox_control.clock(pin="2030-01-15T12:00:00Z")
    sandbox_control.github_change("acme/web", 9, add_labels=["cap:portal"], actor="bob")
    issue = http.get("/github/repos/acme/web/issues/9", headers=BOT).json()
    assert issue["updated_at"] == "2030-01-15T12:00:00Z"
    sandbox_control.clock(advance=90)
    since = http.get(
        "/github/repos/acme/web/issues",
        params={"since": "2030-01-15T12:01:00Z", "state": "all"},
        headers=BOT,
    )
    assert since.json() == []
    sandbox_control.jira_change("PLAT-10", add_labels=["cap:observability"], actor="alice")
    assert sandbox_control.jira_issue("PLAT-10")["updated"] == "2030-01-15T12:01:30Z"


def test_link_header_rels(http: httpx.Client) -> None:
    r = http.get(
        "/github/repos/acme/web/issues",
        params={"state": "all", "per_page": 5, "page": 2},
        headers=BOT,
    )
    links = r.headers["link"]
    for rel, page in (("prev", 1), ("next", 3), ("last", 5), ("first", 1)):
        assert f'page={page}>; rel="{rel}"' in links
    assert len(r.json()) == 5
    big = http.get(
        "/github/repos/acme/web/issues", params={"per_page": 500, "state": "all"}, headers=BOT
    )
    assert len(big.json()) == 23 and "link" not in big.headers


def test_jql_dates_are_read_in_the_user_time_zone(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    sandbox_control.clock(pin="2030-01-15T12:00:30Z")
    sandbox_control.jira_change("PLAT-10", summary="touched at 12:00:30 UTC")
    sandbox_control.config(jira_time_zone="Europe/Berlin")  # UTC+1 in November

    def keys(jql: str) -> list[str]:
        r = http.get(
            "/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": jql, "fields": "updated"}
        )
        assert r.status_code == 200, r.text
        return [i["key"] for i in r.json()["issues"]]

    assert keys('project = PLAT AND updated >= "2030-01-15 13:00"') == ["PLAT-10"]
    assert keys('project = PLAT AND updated >= "2030-01-15 13:01"') == []
    # a cursor written in UTC but read as Berlin time looks an hour earlier: finds more
    assert "PLAT-10" in keys('project = PLAT AND updated >= "2030-01-15 12:00"')
    issue = http.get("/jira/rest/api/2/issue/PLAT-10", auth=JIRA_BOT).json()
    assert issue["fields"]["updated"] == "2030-01-15T13:00:30.000+0100"


def test_search_lag_and_reconcile(http: httpx.Client, sandbox_control: SandboxControl) -> None:
    sandbox_control.config(jira_search_lag=30)
    sandbox_control.jira_change("PLAT-10", labels=["fresh"])
    params = {"jql": "project = PLAT AND labels = fresh", "fields": "labels"}
    stale = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params=params).json()
    assert stale["issues"] == []
    issue_id = sandbox_control.jira_issue("PLAT-10")["id"]
    fresh = http.post(
        "/jira/rest/api/3/search/jql",
        auth=JIRA_BOT,
        json={**params, "fields": ["labels"], "reconcileIssues": [issue_id]},
    ).json()
    assert [i["key"] for i in fresh["issues"]] == ["PLAT-10"]


@pytest.mark.parametrize("kind", ["500", "502", "429"])
def test_status_faults(http: httpx.Client, sandbox_control: SandboxControl, kind: str) -> None:
    sandbox_control.fault("/github/repos/acme/web/issues", int(kind), count=2)
    for _ in range(2):
        r = http.get("/github/repos/acme/web/issues", headers=BOT)
        assert r.status_code == int(kind) and "message" in r.json()
    assert http.get("/github/repos/acme/web/issues", headers=BOT).status_code == 200
    log = sandbox_control.requests()["requests"]
    mine = [e["fault"] for e in log if e["path"] == "/github/repos/acme/web/issues"]
    assert mine == [kind, kind, None]


def test_malformed_truncated_and_timeout_faults(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    sandbox_control.fault(r"/jira/rest/api/\d/search/jql", "malformed", method="GET")
    sandbox_control.fault("/github/repos/acme/web/issues", "truncated")
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "project = PLAT"})
    with pytest.raises(ValueError):
        r.json()
    cut = http.get("/github/repos/acme/web/issues", headers=BOT, params={"state": "all"})
    full = http.get("/github/repos/acme/web/issues", headers=BOT, params={"state": "all"})
    assert cut.status_code == 200 and len(cut.content) < len(full.content)
    with pytest.raises(ValueError):
        cut.json()
    sandbox_control.config(timeout_seconds=1)
    sandbox_control.fault("/github/user", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/github/user", headers=BOT, timeout=0.3)


def test_a_request_held_across_a_log_clear_never_reaches_the_new_log(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    # The sandbox is shared by a worker's tests: one of theirs may still be held, so count
    # from what is in flight now rather than from zero.
    before = sandbox_control.requests()["in_flight"]
    sandbox_control.config(timeout_seconds=0.5)
    sandbox_control.fault("/github/user", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/github/user", headers=BOT, timeout=0.1)
    assert sandbox_control.requests()["in_flight"] == before + 1
    sandbox_control.clear_requests()  # as the next test's fixture does
    http.get("/github/rate_limit", headers=BOT)

    deadline = time.monotonic() + 10
    while sandbox_control.requests()["in_flight"] > before and time.monotonic() < deadline:
        time.sleep(0.05)

    log = sandbox_control.requests()
    assert log["in_flight"] <= before
    assert [(r["path"], r["status"]) for r in log["requests"]] == [("/github/rate_limit", 200)]


def test_bad_input_answers_in_each_api_shape(http: httpx.Client) -> None:
    r = http.get("/github/repos/acme/nope/issues", headers=BOT)
    assert r.status_code == 404 and r.json()["message"] == "Not Found"
    assert http.get("/github/no/such/route", headers=BOT).status_code == 404
    r = http.get("/github/user", headers={"Authorization": "token wrong"})
    assert r.status_code == 401 and r.json()["message"] == "Bad credentials"
    assert http.get("/github/user").status_code == 401
    r = http.post(
        "/github/repos/acme/web/issues/9/comments", headers=BOT, json={"body": "x" * 65537}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = http.post("/github/repos/acme/web/issues/9/comments", headers=BOT, content=b"{oops")
    assert r.status_code == 400 and r.json()["message"] == "Problems parsing JSON"
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "project ~ PLAT"})
    assert r.json()["errorMessages"] == [
        "The operator '~' is not supported by the 'project' field."
    ]
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "colour = red"})
    assert r.status_code == 400 and "does not exist" in r.json()["errorMessages"][0]
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "project = NOPE"})
    assert r.json()["errorMessages"] == ["The value 'NOPE' does not exist for the field 'project'."]
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "order by key"})
    assert r.status_code == 400 and "Unbounded" in r.json()["errorMessages"][0]
    r = http.get("/jira/rest/api/3/search/jql", auth=JIRA_BOT, params={"jql": "project = ("})
    assert r.status_code == 400 and r.json()["errorMessages"][0].startswith("Error in the JQL")
    r = http.get("/jira/rest/api/2/issue/PLAT-999", auth=JIRA_BOT)
    assert r.status_code == 404 and r.json()["errorMessages"]
    r = http.post(
        "/jira/rest/api/2/issue/PLAT-10/comment", auth=JIRA_BOT, json={"body": "x" * 32768}
    )
    assert r.status_code == 400 and "32,767" in r.json()["errors"]["comment"]
    r = http.post("/jira/rest/api/3/issue/PLAT-10/comment", auth=JIRA_BOT, json={"body": "plain"})
    assert r.status_code == 400  # v3 wants ADF
    r = http.get("/jira/rest/api/2/myself", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["errorMessages"]
    r = http.get("/jira/rest/api/2/nothing", auth=JIRA_BOT)
    assert r.status_code == 404 and r.json()["errorMessages"]


def test_github_primary_and_secondary_limits(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    sandbox_control.config(
        github_rate_limit=3, github_secondary_limit=1, github_secondary_retry_after=7
    )
    for left in (2, 1, 0):
        r = http.get("/github/user", headers=BOT)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(left)
    r = http.get("/github/user", headers=BOT)
    assert r.status_code == 403 and "rate limit exceeded" in r.json()["message"]
    assert int(r.headers["x-ratelimit-reset"]) > time.time()
    assert http.get("/github/rate_limit", headers=BOT).json()["rate"]["remaining"] == 0
    alice = {"Authorization": "token alice-token"}
    assert (
        http.post(
            "/github/repos/acme/web/issues/9/comments", headers=alice, json={"body": "one"}
        ).status_code
        == 201
    )
    r = http.post("/github/repos/acme/web/issues/9/comments", headers=alice, json={"body": "two"})
    assert r.status_code == 403 and r.headers["retry-after"] == "7"
    assert "secondary rate limit" in r.json()["message"]


def test_jira_rate_limit_answers_429(http: httpx.Client, sandbox_control: SandboxControl) -> None:
    """The bucket refills by the sandbox's clock: pinned, no request can race a refill."""
    sandbox_control.config(jira_rate_limit=2, jira_retry_after=3)
    sandbox_control.clock(pin=int(time.time()))

    def statuses(n: int) -> list[int]:
        return [http.get("/jira/rest/api/2/myself", auth=JIRA_BOT).status_code for _ in range(n)]

    assert statuses(4) == [200, 200, 429, 429]
    r = http.get("/jira/rest/api/2/myself", auth=JIRA_BOT)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    alice = ("alice@example.com", "jira-alice-token")
    assert http.get("/jira/rest/api/2/myself", auth=alice).status_code == 200, "per user"
    sandbox_control.clock(advance=1)  # one second's worth: two more
    assert statuses(3) == [200, 200, 429]


def test_comment_properties_hold_hidden_markers(http: httpx.Client) -> None:
    r = http.post(
        "/jira/rest/api/3/issue/PLAT-10/comment",
        auth=JIRA_BOT,
        json={
            "body": {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "paragraph",
                        "content": [{"type": "text", "text": "Needs a capability"}],
                    }
                ],
            },
            "properties": [{"key": "bmmsync", "value": {"marker": "flag"}}],
        },
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    prop = http.get(f"/jira/rest/api/3/comment/{cid}/properties/bmmsync", auth=JIRA_BOT)
    assert prop.json() == {"key": "bmmsync", "value": {"marker": "flag"}}
    put = http.put(f"/jira/rest/api/2/comment/{cid}/properties/other", auth=JIRA_BOT, json={"n": 1})
    assert put.status_code == 201
    keys = http.get(f"/jira/rest/api/2/comment/{cid}/properties", auth=JIRA_BOT).json()["keys"]
    assert [k["key"] for k in keys] == ["bmmsync", "other"]
    v2 = http.get("/jira/rest/api/2/issue/PLAT-10/comment", auth=JIRA_BOT).json()
    assert v2["comments"][0]["body"] == "Needs a capability" and v2["total"] == 1


def test_transitions(http: httpx.Client, sandbox_control: SandboxControl) -> None:
    names = [
        t["name"]
        for t in http.get("/jira/rest/api/2/issue/PLAT-10/transitions", auth=JIRA_BOT).json()[
            "transitions"
        ]
    ]
    assert names == ["To Do", "In Progress", "Done"]
    r = http.post(
        "/jira/rest/api/2/issue/PLAT-10/transitions",
        auth=JIRA_BOT,
        json={"transition": {"id": "31"}},
    )
    assert r.status_code == 204
    assert sandbox_control.jira_issue("PLAT-10")["status"] == "Done"
    done = http.get(
        "/jira/rest/api/3/search/jql",
        auth=JIRA_BOT,
        params={"jql": "project = PLAT AND statusCategory != Done", "fields": "status"},
    )
    assert "PLAT-10" not in [i["key"] for i in done.json()["issues"]]


def test_control_api_human_actions_and_state(
    http: httpx.Client, sandbox_control: SandboxControl
) -> None:
    created = sandbox_control.github_create(
        repo="acme/mobile", title="New", labels=["cap:offline"], actor="bob", parent="acme/mobile#1"
    )
    assert created["key"] == "acme/mobile#17" and created["user"] == "bob"
    parent = http.get("/github/repos/acme/mobile/issues/17/parent", headers=BOT).json()
    assert parent["number"] == 1
    subs = http.get("/github/repos/acme/mobile/issues/1/sub_issues", headers=BOT).json()
    assert [s["number"] for s in subs] == [2, 3, 17]
    jira = sandbox_control.jira_create(
        project="PLAT",
        summary="New story",
        issuetype="Story",
        parent="PLAT-5",
        capability={"value": "export-user-data"},
    )
    assert jira["key"] == "PLAT-24"
    sandbox_control.jira_delete("PLAT-5")
    issue = http.get("/jira/rest/api/2/issue/PLAT-24", auth=JIRA_BOT).json()
    assert issue["fields"]["parent"] == {
        "key": "PLAT-5",
        "self": f"{sandbox_url(http)}/jira/rest/api/2/issue/PLAT-5",
    }
    assert sandbox_control.jira_comment("PLAT-24", "hi")["key"] == "PLAT-24"
    r = http.post("/_sandbox/faults", json={"route": "/x", "status": 418})
    assert r.status_code == 400 and "status must be one of" in r.json()["error"]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "Resource not accessible by personal access token"),
        (404, "Not Found"),
        (410, "This issue was deleted"),
    ],
)
def test_github_write_refusals_answer_in_githubs_body_and_change_nothing(
    http: httpx.Client,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    status: int,
    message: str,
) -> None:
    before = list(sandbox.state.gh_issue("acme/web", 9).labels)
    sandbox_control.fault("/github/repos/acme/web/issues/9/labels", status, method="POST")

    r = http.post("/github/repos/acme/web/issues/9/labels", headers=BOT, json={"labels": ["x"]})

    assert r.status_code == status
    assert r.json() == {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }
    assert sandbox.state.gh_issue("acme/web", 9).labels == before
    again = http.post("/github/repos/acme/web/issues/9/labels", headers=BOT, json={"labels": ["x"]})
    assert again.status_code == 200  # the fault was used up


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "You do not have permission to edit issues in this project."),
        (404, "Issue does not exist or you do not have permission to see it."),
    ],
)
def test_jira_write_refusals_answer_in_jiras_body(
    http: httpx.Client,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    status: int,
    message: str,
) -> None:
    sandbox_control.fault(r"^/jira/rest/api/\d/issue/PLAT-2(/|$)", status, method="PUT")

    r = http.put(
        "/jira/rest/api/2/issue/PLAT-2",
        auth=JIRA_BOT,
        json={"update": {"labels": [{"add": "x"}]}},
    )

    assert r.status_code == status
    assert r.json() == {"errorMessages": [message], "errors": {}}
    assert "x" not in sandbox.state.data.jira_issues["PLAT-2"].labels
