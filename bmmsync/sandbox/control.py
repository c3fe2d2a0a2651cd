"""The control API under `/_sandbox/` (JSON in, JSON out; no auth: the sandbox is local).

State
- `POST /_sandbox/reset` `{"jira_deployment"?: "cloud"|"server"}`: empty trackers, limits,
  faults and log cleared.
- `POST /_sandbox/seed` `{"seed": "demo"|N, "jira_deployment"?: ...}`: reset, then load the
  demo data or N generated tickets.
- `GET /_sandbox/state[?repo=acme/web][&key=PLAT-1]`: tickets, labels and comments as stored
  (`{"jira_deployment", "clock", "github": {repo: {"labels", "issues"}}, "jira": {"issues"}}`).
- `POST /_sandbox/clock` `{"pin"?: iso|epoch, "advance"?: seconds, "release"?: true}`;
  `GET /_sandbox/clock`.

Acting as a human (each change moves `updated` and records the actor)
- `POST /_sandbox/github/repos` `{"owner", "name"}` -> 201 `{"key": "owner/name", "id"}`.
- `POST /_sandbox/github/issues` `{"repo", "title", "actor"?, "body"?, "labels"?, "type"?,
  "parent"?: "owner/repo#N", "pull_request"?: bool, "state"?}` -> 201 issue summary.
- `PATCH /_sandbox/github/issues/{owner}/{repo}/{number}` `{"actor"?, "title"?, "body"?,
  "labels"?, "add_labels"?, "remove_labels"?, "state"?, "state_reason"?, "parent"?, "type"?}`.
- `POST /_sandbox/github/comments` `{"repo", "number", "body", "actor"?}`.
- `POST /_sandbox/jira/issues` `{"project", "summary", "actor"?, "issuetype"?, "labels"?,
  "parent"?, "epic_link"?, "capability"?, "story_points"?, "status"?}` -> 201.
- `PATCH /_sandbox/jira/issues/{key}` `{"actor"?, "summary"?, "labels"?, "add_labels"?,
  "remove_labels"?, "capability"?, "story_points"?, "parent"?, "epic_link"?, "status"?}`.
- `DELETE /_sandbox/jira/issues/{key}` (a parent that disappears).
- `POST /_sandbox/jira/comments` `{"key", "body", "actor"?}`.
  Actors: GitHub logins (`alice`, `bob`, ...) or Jira account ids / names (`alice`).

Webhooks (every ticket change, API or control, is sent signed to each registered URL)
- `POST /_sandbox/webhooks` `{"url", "tracker": "github"|"jira", "secret"}`; `GET` lists
  hooks, faults, `pending` and each delivery's outcome; `DELETE` clears them.
- `POST /_sandbox/webhooks/faults` `{"drop_percent"?, "duplicate"?: N, "delay"?: seconds,
  "reorder"?: N, "bad_signature"?: N, "seed"?}`: drop a share, send the next N twice,
  delay each, hold the next N and send them in reverse, sign the next N wrongly.

Faults, config, request log
- `POST /_sandbox/faults` `{"route": regex-or-prefix, "method"?, "status": 500|502|503|429|
  403|404|410|"timeout"|"malformed"|"truncated"|"hold", "count"?: N, "after"?: N}`; `GET`
  lists them; `DELETE` clears them (and releases held requests). 403/404/410 answer in the
  tracker's own error body (refusals, not retried). `after` lets N matching requests through
  before the fault applies.
- `GET /_sandbox/holds`: the requests a `hold` fault keeps waiting `[{method, path}]`;
  `DELETE /_sandbox/holds` releases them (each then gets its normal answer).
- `POST /_sandbox/config` with any of `SandboxConfig`'s keys (`github_rate_limit`,
  `github_rate_limit_status`, `github_secondary_limit`, `github_secondary_retry_after`,
  `jira_search_lag`, `jira_time_zone`, `jira_rate_limit`, `jira_retry_after`,
  `timeout_seconds`, `github_app_repositories`: the repos the App installation reaches, or
  null for all); `GET` returns the config.
- `GET /_sandbox/requests[?requests=false]`: `{"total", "counts": {"GET /github/repos/...":
  n}, "not_modified", "in_flight", "requests": [{method, path, query, status, user, route,
  fault}]}` (`route` is null for a faulted or unrouted request); `DELETE /_sandbox/requests`
  clears it, and requests still in flight (held by a timeout fault) are then never logged.
Errors answer 400/404 with `{"error": "..."}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bmmsync.sandbox.clock import iso_z, parse_iso
from bmmsync.sandbox.records import GhIssue, JiraIssue
from bmmsync.sandbox.state import NotFound
from bmmsync.sandbox.web import ApiError, json_response, read_json_body

if TYPE_CHECKING:
    from bmmsync.sandbox.app import Sandbox

Handler = Callable[[Request, dict[str, Any]], Any]


def bad(message: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": message})


def gh_summary(issue: GhIssue) -> dict[str, Any]:
    return {
        "key": issue.key,
        "repo": issue.repo,
        "number": issue.number,
        "id": issue.id,
        "title": issue.title,
        "body": issue.body,
        "user": issue.user,
        "labels": issue.labels,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "parent": issue.parent,
        "pull_request": issue.is_pr,
        "type_id": issue.type_id,
        "comments": issue.comments,
        "assignees": issue.assignees,
        "created_at": iso_z(issue.created),
        "updated_at": iso_z(issue.updated),
        "closed_by": issue.closed_by,
    }


def jira_summary(issue: JiraIssue) -> dict[str, Any]:
    return {
        "key": issue.key,
        "id": issue.id,
        "project": issue.project,
        "summary": issue.summary,
        "issuetype": issue.issuetype,
        "status": issue.status,
        "labels": issue.labels,
        "parent": issue.parent,
        "epic_link": issue.epic_link,
        "capability": issue.capability,
        "story_points": issue.story_points,
        "reporter": issue.reporter,
        "created": iso_z(issue.created),
        "updated": iso_z(issue.updated),
    }


class ControlApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state

    def routes(self) -> list[BaseRoute]:
        r = self._route
        return [
            r("/reset", "POST", self.reset),
            r("/seed", "POST", self.seed),
            r("/state", "GET", self.get_state),
            r("/clock", "GET", self.get_clock),
            r("/clock", "POST", self.set_clock),
            r("/github/repos", "POST", self.gh_create_repo),
            r("/github/issues", "POST", self.gh_create),
            r("/github/issues/{owner}/{repo}/{number:int}", "PATCH", self.gh_change),
            r("/github/comments", "POST", self.gh_comment),
            r("/jira/issues", "POST", self.jira_create),
            r("/jira/issues/{key}", "PATCH", self.jira_change),
            r("/jira/issues/{key}", "DELETE", self.jira_delete),
            r("/jira/comments", "POST", self.jira_comment),
            r("/faults", "POST", self.add_fault),
            r("/faults", "GET", lambda req, body: self.sandbox.faults.as_list()),
            r("/faults", "DELETE", lambda req, body: self.sandbox.faults.clear()),
            r("/holds", "GET", lambda req, body: self.sandbox.faults.holds()),
            r("/holds", "DELETE", lambda req, body: self.sandbox.faults.release()),
            r("/config", "POST", self.set_config),
            r("/config", "GET", lambda req, body: self.state.config.as_dict()),
            r("/webhooks", "POST", self.add_webhook),
            r("/webhooks", "GET", lambda req, body: self.sandbox.webhooks.snapshot()),
            r("/webhooks", "DELETE", lambda req, body: self.sandbox.webhooks.clear()),
            r("/webhooks/faults", "POST", self.set_webhook_faults),
            r("/requests", "GET", self.get_requests),
            r("/requests", "DELETE", lambda req, body: self.sandbox.log.clear()),
        ]

    def _route(self, path: str, method: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            request.scope["sandbox.route"] = "/_sandbox" + path
            ok, body = await read_json_body(request)
            try:
                if not ok:
                    raise bad("request body is not valid JSON")
                if body is not None and not isinstance(body, dict):
                    raise bad("request body must be a JSON object")
                with self.state.lock:
                    result = handler(request, body or {})
                if isinstance(result, Awaitable):
                    result = await result
            except ApiError as exc:
                return exc.response()
            except NotFound as exc:
                return bad(f"not found: {exc}", 404).response()
            except (ValueError, TypeError, KeyError) as exc:
                return bad(str(exc)).response()
            status = (
                201 if method == "POST" and isinstance(result, dict) and "key" in result else 200
            )
            return json_response(result if result is not None else {"ok": True}, status)

        return Route(path, endpoint, methods=[method])

    # ----- state ---------------------------------------------------------------------------
    def reset(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.state.reset(body.get("jira_deployment"))
        self._fresh()
        return {"ok": True, "jira_deployment": self.state.data.jira_deployment}

    def _fresh(self) -> None:
        self.sandbox.limits.reset()
        self.sandbox.faults.clear()
        self.sandbox.log.clear()
        self.sandbox.webhooks.clear()

    def seed(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        from bmmsync.sandbox.seeding import seed_state

        counts = seed_state(self.state, body.get("seed", "demo"), body.get("jira_deployment"))
        self._fresh()
        return {"ok": True, "jira_deployment": self.state.data.jira_deployment, **counts}

    def get_state(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        data = self.state.data
        want_repo = request.query_params.get("repo", "").lower()
        want_key = request.query_params.get("key", "").upper()
        github: dict[str, Any] = {}
        for repo in data.repos.values():
            if want_repo and repo.full_name.lower() != want_repo:
                continue
            issues = []
            for issue in repo.issues.values():
                entry = gh_summary(issue)
                entry["comment_list"] = [
                    {
                        "id": c.id,
                        "body": c.body,
                        "user": c.user,
                        "created_at": iso_z(c.created),
                        "updated_at": iso_z(c.updated),
                    }
                    for c in self.state.gh_issue_comments(issue)
                ]
                issues.append(entry)
            github[repo.full_name] = {
                "labels": [
                    {"name": lab.name, "color": lab.color, "description": lab.description}
                    for lab in repo.labels.values()
                ],
                "issues": issues,
            }
        jira = []
        for jissue in data.jira_issues.values():
            if want_key and jissue.key != want_key:
                continue
            entry = jira_summary(jissue)
            entry["comments"] = [
                {
                    "id": c.id,
                    "body": c.text,
                    "adf": c.adf,
                    "author": c.author,
                    "properties": c.properties,
                    "updated": iso_z(c.updated),
                }
                for c in (data.jira_comments[i] for i in jissue.comment_ids)
            ]
            jira.append(entry)
        return {
            "jira_deployment": data.jira_deployment,
            "clock": self.state.clock.snapshot(),
            "github": github,
            "jira": {"issues": jira},
        }

    def get_clock(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.state.clock.snapshot() | {"iso": iso_z(self.state.clock.now())}

    def set_clock(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        clock = self.state.clock
        if body.get("release"):
            clock.release()
        if "pin" in body:
            pin = body["pin"]
            clock.pin(int(pin) if isinstance(pin, int | float) else parse_iso(str(pin)))
        if "advance" in body:
            clock.advance(int(body["advance"]))
        return self.get_clock(request, body)

    # ----- GitHub as a human -----------------------------------------------------------------
    def gh_create_repo(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        owner, name = str(body["owner"]), str(body["name"])
        if f"{owner}/{name}".lower() in self.state.data.repos:
            raise bad(f"repository {owner}/{name} exists")
        repo = self.state.add_repo(owner, name)
        return {"key": repo.full_name, "id": repo.id}

    def gh_create(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.gh_create_issue(
            body["repo"],
            body["title"],
            body.get("actor", "alice"),
            body=body.get("body"),
            labels=body.get("labels"),
            is_pr=bool(body.get("pull_request")),
            type_name=body.get("type"),
            parent=body.get("parent"),
        )
        if body.get("state") == "closed":
            self.state.gh_set_state(
                issue, "closed", body.get("actor", "alice"), body.get("state_reason")
            )
        return gh_summary(issue)

    def gh_change(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        p = request.path_params
        issue = self.state.gh_issue(f"{p['owner']}/{p['repo']}", p["number"])
        actor = body.get("actor", "alice")
        st = self.state
        edits: dict[str, Any] = {}
        if "title" in body:
            edits["title"] = {"from": issue.title}
            issue.title = str(body["title"])
        if "body" in body:
            edits["body"] = {"from": issue.body}
            issue.body = body["body"]
        if "type" in body:
            itype = st.issue_type_named(body["type"]) if body["type"] else None
            if body["type"] and itype is None:
                raise bad(f"unknown issue type {body['type']!r}")
            edits["type"] = {}
            issue.type_id = itype.id if itype else None
        if "labels" in body:
            st.gh_set_labels(issue, list(body["labels"]), actor)
        if body.get("add_labels"):
            st.gh_add_labels(issue, list(body["add_labels"]), actor)
        for name in body.get("remove_labels", []):
            st.gh_remove_label(issue, name, actor)
        if "parent" in body:
            st.gh_set_parent(issue, body["parent"])
        if "state" in body or "state_reason" in body:
            st.gh_set_state(issue, body.get("state", issue.state), actor, body.get("state_reason"))
        st.gh_edited(issue, edits, actor)
        return gh_summary(issue) | {"actor": actor}

    def gh_comment(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.gh_issue(body["repo"], int(body["number"]))
        comment = self.state.gh_add_comment(issue, str(body["body"]), body.get("actor", "alice"))
        return {"id": comment.id, "key": issue.key, "body": comment.body, "user": comment.user}

    # ----- Jira as a human -------------------------------------------------------------------
    def _account(self, actor: str | None) -> str:
        name = actor or "alice"
        for user in self.state.jira_users.values():
            if name in (user.account_id, user.name, user.email):
                return user.account_id
        raise bad(f"unknown Jira user {name!r}")

    def jira_create(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.jira_create_issue(
            body["project"],
            body["summary"],
            self._account(body.get("actor")),
            issuetype=body.get("issuetype", "Task"),
            labels=body.get("labels"),
            parent=body.get("parent"),
            epic_link=body.get("epic_link"),
            capability=body.get("capability"),
            story_points=body.get("story_points"),
            status=body.get("status", "To Do"),
            description=body.get("description"),
        )
        return jira_summary(issue)

    def jira_change(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.jira_issue(request.path_params["key"])
        actor = self._account(body.pop("actor", None))
        labels = list(body.pop("labels", issue.labels))
        labels += [x for x in body.pop("add_labels", []) if x not in labels]
        remove = set(body.pop("remove_labels", []))
        changes = {"labels": [x for x in labels if x not in remove], **body}
        self.state.jira_update(issue, actor, **changes)
        return jira_summary(issue) | {"actor": actor}

    def jira_delete(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.jira_issue(request.path_params["key"])
        self.state.jira_delete_issue(issue)
        return {"deleted": issue.key}

    def jira_comment(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        issue = self.state.jira_issue(str(body["key"]))
        comment = self.state.jira_add_comment(
            issue, str(body["body"]), self._account(body.get("actor"))
        )
        return {"id": comment.id, "key": issue.key, "body": comment.text}

    # ----- faults, config, log ---------------------------------------------------------------
    def add_fault(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        rule = self.sandbox.faults.add(
            str(body["route"]),
            body["status"],
            int(body.get("count", 1)),
            body.get("method"),
            int(body.get("after", 0)),
        )
        return {
            "route": rule.route,
            "status": rule.status,
            "count": rule.count,
            "method": rule.method,
            "after": rule.after,
        }

    def add_webhook(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        hook = self.sandbox.webhooks.register(
            str(body["url"]), str(body["tracker"]), str(body["secret"]), str(request.base_url)
        )
        return {"url": hook.url, "tracker": hook.tracker}

    def set_webhook_faults(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.sandbox.webhooks.set_faults(body).as_dict()

    def set_config(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.state.config.update(body)
        return self.state.config.as_dict()

    def get_requests(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        include = request.query_params.get("requests", "true") != "false"
        return self.sandbox.log.snapshot(include)
