"""The GitHub REST subset bmmsync uses, served under `/github`.

The wrapper in `GitHubApi._endpoint` does what every GitHub call shares: token auth (401),
the hourly budget (403/429 when spent), the secondary limit on writes (403 + retry-after),
weak ETags with `304 Not Modified` (not counted) and the X-RateLimit-* headers. Handlers
are synchronous and run under the state lock, so a page is a consistent snapshot.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bmmsync.sandbox import github_json as gj
from bmmsync.sandbox.clock import iso_z, parse_iso
from bmmsync.sandbox.limits import Limits
from bmmsync.sandbox.records import GhIssue, GhRepo
from bmmsync.sandbox.state import (
    GITHUB_APP_BOT,
    GITHUB_APP_ID,
    GITHUB_APP_INSTALLATION,
    GITHUB_TOKENS,
    NotFound,
    SandboxState,
)
from bmmsync.sandbox.web import JSON_TYPE, ApiError, Call, dumps, origin, read_json_body

DOCS = "https://docs.github.com/rest"
MAX_COMMENT = 65536
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

Reply = tuple[int, bytes, dict[str, str]]
Handler = Callable[[Call], Reply]


def error(status: int, message: str, **extra: Any) -> ApiError:
    return ApiError(
        status, {"message": message, **extra, "documentation_url": DOCS, "status": str(status)}
    )


def not_found() -> ApiError:
    return error(404, "Not Found")


def validation(resource: str, field: str, code: str, message: str | None = None) -> ApiError:
    err: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if message:
        err["message"] = message
    return error(422, "Validation Failed", errors=[err])


def ok(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return status, dumps(obj), headers or {}


def page_window(call: Call) -> tuple[int, int]:
    """(per_page, page) with GitHub's defaults and bounds (30, max 100; page from 1)."""
    try:
        per_page = int(call.query.get("per_page", 30))
        page = int(call.query.get("page", 1))
    except ValueError as exc:
        raise error(400, "Invalid per_page or page") from exc
    return max(1, min(per_page, 100)), max(1, page)


def link_header(url: str, page: int, last: int) -> str:
    """RFC 8288 Link header with next/last/first/prev, same query but `page`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]

    def at(n: int) -> str:
        return urlunsplit(parts._replace(query=urlencode([*query, ("page", str(n))])))

    links = []
    if page > 1:
        links.append(f'<{at(page - 1)}>; rel="prev"')
    if page < last:
        links.append(f'<{at(page + 1)}>; rel="next"')
        links.append(f'<{at(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{at(1)}>; rel="first"')
    return ", ".join(links)


def paged(call: Call, items: list[Any], render: Callable[[Any], bytes]) -> Reply:
    per_page, page = page_window(call)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    body = b"[" + b",".join(render(i) for i in chunk) + b"]"
    link = link_header(call.url, page, last)
    return 200, body, ({"link": link} if link else {})


class GitHubApi:
    def __init__(self, state: SandboxState, limits: Limits) -> None:
        self.state = state
        self.limits = limits
        # Filtered+sorted issue lists keyed by query; valid while state.version is unchanged.
        self._lists: dict[tuple[Any, ...], list[GhIssue]] = {}
        self._lists_version = -1

    # ----- plumbing --------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        r = self._route
        return [
            r("/app/installations/{installation:int}/access_tokens", POST=self.app_token),
            r("/user", GET=self.get_user),
            r("/users/{login}", GET=self.get_named_user),
            r("/rate_limit", GET=self.get_rate_limit),
            r("/orgs/{org}", GET=self.get_org),
            r("/installation/repositories", GET=self.list_installation_repos),
            r("/orgs/{org}/issues", GET=self.list_org_issues),
            r("/orgs/{org}/repos", GET=self.list_org_repos),
            r("/orgs/{org}/issue-types", GET=self.list_issue_types),
            r("/repos/{owner}/{repo}", GET=self.get_repo),
            r("/repos/{owner}/{repo}/issues", GET=self.list_repo_issues, POST=self.create_issue),
            r("/repos/{owner}/{repo}/issues/comments", GET=self.list_repo_comments),
            r(
                "/repos/{owner}/{repo}/issues/comments/{comment_id:int}",
                GET=self.get_comment,
                PATCH=self.edit_comment,
                DELETE=self.delete_comment,
            ),
            r(
                "/repos/{owner}/{repo}/issues/{number:int}",
                GET=self.get_issue,
                PATCH=self.edit_issue,
            ),
            r(
                "/repos/{owner}/{repo}/issues/{number:int}/labels",
                GET=self.list_issue_labels,
                POST=self.add_issue_labels,
                PUT=self.set_issue_labels,
                DELETE=self.clear_issue_labels,
            ),
            r(
                "/repos/{owner}/{repo}/issues/{number:int}/labels/{name:path}",
                DELETE=self.remove_issue_label,
            ),
            r(
                "/repos/{owner}/{repo}/issues/{number:int}/comments",
                GET=self.list_comments,
                POST=self.create_comment,
            ),
            r("/repos/{owner}/{repo}/issues/{number:int}/sub_issues", GET=self.list_sub_issues),
            r("/repos/{owner}/{repo}/issues/{number:int}/parent", GET=self.get_parent),
            r("/repos/{owner}/{repo}/labels", GET=self.list_labels, POST=self.create_label),
            r(
                "/repos/{owner}/{repo}/labels/{name:path}",
                GET=self.get_label,
                PATCH=self.update_label,
                DELETE=self.delete_label,
            ),
        ]

    def _route(self, path: str, **handlers: Handler) -> Route:
        template = "/github" + path

        async def endpoint(request: Request) -> Response:
            request.scope["sandbox.route"] = template
            try:
                return await self._endpoint(request, handlers)
            except ApiError as exc:
                return exc.response()

        return Route(path, endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])

    async def _endpoint(self, request: Request, handlers: dict[str, Handler]) -> Response:
        user = self._authenticate(request)
        request.scope["sandbox.user"] = user
        handler = handlers.get(request.method)
        if handler is None:
            raise not_found()
        ok_body, body = await read_json_body(request)
        if not ok_body:
            raise error(400, "Problems parsing JSON")
        limits = self.limits
        counted = request.url.path.rstrip("/") != request.scope.get("root_path", "") + "/rate_limit"
        if counted and limits.github_exhausted(user):
            raise ApiError(
                self.state.config.github_rate_limit_status,
                {
                    "message": f"API rate limit exceeded for user ID "
                    f"{self.state.gh_user(user).id}.",
                    "documentation_url": DOCS + "/overview/rate-limits-for-the-rest-api",
                    "status": str(self.state.config.github_rate_limit_status),
                },
                limits.github_headers(user),
            )
        if request.method in WRITE_METHODS and limits.github_secondary_blocked(user):
            retry = str(self.state.config.github_secondary_retry_after)
            raise ApiError(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                    "documentation_url": DOCS + "/overview/rate-limits-for-the-rest-api"
                    "#about-secondary-rate-limits",
                    "status": "403",
                },
                {"retry-after": retry, **limits.github_headers(user)},
            )
        prefix = request.scope.get("root_path", "")
        call = Call(
            user=user,
            base=origin(request) + prefix,
            url=str(request.url),
            path=dict(request.path_params),
            query=request.query_params,
            body=body,
        )
        try:
            with self.state.lock:
                status, payload, headers = handler(call)
        except NotFound as exc:
            raise not_found() from exc
        except ApiError as exc:
            if counted:
                limits.github_count(user)
            exc.headers.update(limits.github_headers(user))
            raise
        if request.method == "GET" and status == 200:
            etag = _etag(user, payload)
            headers["etag"] = etag
            headers["cache-control"] = "private, max-age=60, s-maxage=60"
            headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if etag in _etags(request.headers.get("if-none-match", "")):
                headers.pop("link", None)
                return Response(None, 304, headers | limits.github_headers(user))
        if counted:
            limits.github_count(user)
        headers |= limits.github_headers(user)
        if status == 204:
            return Response(None, 204, headers)
        return Response(payload, status, headers, media_type=JSON_TYPE)

    def _authenticate(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer"):
            raise error(401, "Bad credentials")
        user = GITHUB_TOKENS.get(token) or self.state.app_tokens.get(token)
        if user is None and request.url.path.endswith("/access_tokens"):
            user = self._app_from_jwt(token)
        if user is None:
            raise error(401, "Bad credentials")
        return user

    def _app_from_jwt(self, token: str) -> str | None:
        """The App a JWT names, if its claims hold (the signature is not checked)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        now = int(time.time())  # the App signs with the real clock, not the sandbox's
        if str(claims.get("iss")) != str(GITHUB_APP_ID) or not (
            int(claims.get("iat", now + 1)) <= now + 60 < int(claims.get("exp", 0)) + 60
        ):
            return None
        return f"app:{GITHUB_APP_ID}"

    def _repo(self, call: Call) -> GhRepo:
        repo = self.state.repo(f"{call.path['owner']}/{call.path['repo']}")
        if not self._reaches(call.user, repo):
            raise NotFound(repo.full_name)  # GitHub hides what an installation cannot see
        return repo

    def _reaches(self, user: str, repo: GhRepo) -> bool:
        """Whether `user` may see `repo`: an App installation only sees the repos granted."""
        granted = self.state.config.github_app_repositories
        if user != GITHUB_APP_BOT or granted is None:
            return True
        return repo.full_name.lower() in {name.lower() for name in granted}

    def _issue(self, call: Call) -> GhIssue:
        issue = self._repo(call).issues.get(call.path["number"])
        if issue is None:
            raise NotFound(str(call.path["number"]))
        return issue

    def _render(self, call: Call) -> Callable[[GhIssue], bytes]:
        return lambda issue: gj.issue_bytes(self.state, call.base, issue)

    # ----- GitHub App ------------------------------------------------------------------
    def app_token(self, call: Call) -> Reply:
        """An installation access token, for a request signed as the App (a JWT)."""
        if not call.user.startswith("app:"):
            raise error(401, "A JSON web token could not be decoded")
        if call.path["installation"] != GITHUB_APP_INSTALLATION:
            raise not_found()
        token = f"ghs_sandbox{secrets.token_hex(16)}"
        self.state.app_tokens[token] = GITHUB_APP_BOT
        expires = self.state.clock.now() + 3600
        return ok(
            {
                "token": token,
                "expires_at": iso_z(expires),
                "permissions": {"issues": "write", "metadata": "read"},
                "repository_selection": self._selection(),
            },
            201,
        )

    def _selection(self) -> str:
        return "all" if self.state.config.github_app_repositories is None else "selected"

    def list_installation_repos(self, call: Call) -> Reply:
        """The repositories the installation reaches; only an installation token may ask."""
        if call.user != GITHUB_APP_BOT:
            raise ApiError(
                403,
                {
                    "message": "You must authenticate with an installation access token in "
                    "order to list repositories for an installation.",
                    "documentation_url": DOCS + "/apps/installations"
                    "#list-repositories-accessible-to-the-app-installation",
                    "status": "403",
                },
            )
        repos = sorted(
            (r for r in self.state.data.repos.values() if self._reaches(call.user, r)),
            key=lambda r: r.full_name.lower(),
        )
        per_page, page = page_window(call)
        last = max(1, -(-len(repos) // per_page))
        chunk = repos[(page - 1) * per_page : page * per_page]
        link = link_header(call.url, page, last)
        body = {
            "total_count": len(repos),
            "repositories": [gj.repo_json(self.state, call.base, r) for r in chunk],
            "repository_selection": self._selection(),
        }
        return ok(body, headers={"link": link} if link else {})

    def list_org_repos(self, call: Call) -> Reply:
        """An org's repositories in GitHub's default order (created, newest last for `asc`)."""
        org = call.path["org"]
        if org not in self.state.data.orgs:
            raise NotFound(org)
        kind = call.query.get("type", "all")
        if kind not in ("all", "public", "private", "forks", "sources", "member"):
            raise validation("Repository", "type", "invalid")
        sort = call.query.get("sort", "created")
        if sort not in ("created", "updated", "pushed", "full_name"):
            raise validation("Repository", "sort", "invalid")
        direction = call.query.get("direction", "asc" if sort == "full_name" else "desc")
        repos = [
            r
            for r in self.state.data.repos.values()
            if r.owner == org and self._reaches(call.user, r) and kind != "private"
        ]
        if sort == "full_name":
            repos.sort(key=lambda r: r.full_name.lower(), reverse=direction == "desc")
        else:
            repos.sort(key=lambda r: (r.created, r.id), reverse=direction == "desc")
        return paged(call, repos, lambda r: dumps(gj.repo_json(self.state, call.base, r)))

    # ----- users, orgs, repos ----------------------------------------------------------
    def get_user(self, call: Call) -> Reply:
        return ok(gj.full_user_json(call.base, self.state.gh_user(call.user), 1_600_000_000))

    def get_named_user(self, call: Call) -> Reply:
        user = self.state.gh_users.get(call.path["login"])
        if user is None:
            raise NotFound(call.path["login"])
        return ok(gj.full_user_json(call.base, user, 1_600_000_000))

    def get_rate_limit(self, call: Call) -> Reply:
        h = self.limits.github_headers(call.user)
        core = {
            "limit": int(h["x-ratelimit-limit"]),
            "remaining": int(h["x-ratelimit-remaining"]),
            "reset": int(h["x-ratelimit-reset"]),
            "used": int(h["x-ratelimit-used"]),
            "resource": "core",
        }
        search = {
            "limit": 30,
            "remaining": 30,
            "reset": core["reset"],
            "used": 0,
            "resource": "search",
        }
        return ok({"resources": {"core": core, "search": search}, "rate": core})

    def get_org(self, call: Call) -> Reply:
        org = call.path["org"]
        org_id = self.state.data.orgs.get(org)
        if org_id is None:
            raise NotFound(org)
        return ok(gj.org_json(call.base, org, org_id, 1_600_000_000))

    def list_issue_types(self, call: Call) -> Reply:
        if call.path["org"] not in self.state.data.orgs:
            raise NotFound(call.path["org"])
        return ok([gj.issue_type_json(t) for t in self.state.data.issue_types.values()])

    def get_repo(self, call: Call) -> Reply:
        return ok(gj.repo_json(self.state, call.base, self._repo(call)))

    # ----- issue lists -----------------------------------------------------------------
    def list_repo_issues(self, call: Call) -> Reply:
        repo = self._repo(call)
        issues = self._filtered(call, (repo,), "all")
        return paged(call, issues, self._render(call))

    def list_org_issues(self, call: Call) -> Reply:
        """Closed to GitHub Apps (`enabledForGitHubApps: false`), with GitHub's own 403."""
        if call.user == GITHUB_APP_BOT:
            raise ApiError(
                403,
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": DOCS + "/issues/issues"
                    "#list-organization-issues-assigned-to-the-authenticated-user",
                    "status": "403",
                },
            )
        org = call.path["org"]
        if org not in self.state.data.orgs:
            raise NotFound(org)
        repos = tuple(r for r in self.state.data.repos.values() if r.owner == org)
        issues = self._filtered(call, repos, call.query.get("filter", "assigned"))
        repo_bytes = {r.full_name: dumps(gj.repo_json(self.state, call.base, r)) for r in repos}

        def render(issue: GhIssue) -> bytes:
            own = gj.issue_bytes(self.state, call.base, issue)
            return own[:-1] + b',"repository":' + repo_bytes[issue.repo] + b"}"

        return paged(call, issues, render)

    def _filtered(self, call: Call, repos: tuple[GhRepo, ...], who: str) -> list[GhIssue]:
        q = call.query
        state = q.get("state", "open")
        sort = q.get("sort", "created")
        direction = q.get("direction", "desc")
        if state not in ("open", "closed", "all"):
            raise validation("Issue", "state", "invalid")
        if sort not in ("created", "updated", "comments") or direction not in ("asc", "desc"):
            raise validation("Issue", "sort", "invalid")
        if who not in ("assigned", "created", "mentioned", "subscribed", "repos", "all"):
            raise validation("Issue", "filter", "invalid")
        since = None
        if q.get("since"):
            try:
                since = parse_iso(q["since"])
            except ValueError as exc:
                raise validation("Issue", "since", "invalid") from exc
        wanted = [x.strip().lower() for x in q.get("labels", "").split(",") if x.strip()]
        key = (
            tuple(r.id for r in repos),
            state,
            sort,
            direction,
            since,
            tuple(wanted),
            who,
            call.user,
        )
        if self._lists_version != self.state.version:
            self._lists.clear()
            self._lists_version = self.state.version
        cached = self._lists.get(key)
        if cached is not None:
            return cached
        out = []
        for repo in repos:
            for issue in repo.issues.values():
                if state != "all" and issue.state != state:
                    continue
                if since is not None and issue.updated < since:
                    continue
                if wanted and not set(wanted) <= {n.lower() for n in issue.labels}:
                    continue
                if not _involves(issue, call.user, who):
                    continue
                out.append(issue)
        field = {"created": "created", "updated": "updated", "comments": "comments"}[sort]
        out.sort(key=lambda i: (getattr(i, field), i.id), reverse=direction == "desc")
        if len(self._lists) > 64:
            self._lists.clear()
        self._lists[key] = out
        return out

    # ----- one issue -------------------------------------------------------------------
    def get_issue(self, call: Call) -> Reply:
        return 200, gj.single_issue_bytes(self.state, call.base, self._issue(call)), {}

    def create_issue(self, call: Call) -> Reply:
        body = _object(call.body)
        title = body.get("title")
        if not isinstance(title, str) or not title:
            raise validation("Issue", "title", "missing_field")
        issue = self.state.gh_create_issue(
            self._repo(call).full_name,
            title,
            call.user,
            body=_text(body.get("body"), "Issue", "body"),
            labels=_label_names(body.get("labels", [])),
            assignees=list(body.get("assignees") or []),
            type_name=body.get("type"),
        )
        return (
            201,
            gj.single_issue_bytes(self.state, call.base, issue),
            {"location": f"{call.base}/repos/{issue.repo}/issues/{issue.number}"},
        )

    def edit_issue(self, call: Call) -> Reply:
        issue = self._issue(call)
        body = _object(call.body)
        if "title" in body and (not isinstance(body["title"], str) or not body["title"]):
            raise validation("Issue", "title", "invalid")
        if "state" in body and body["state"] not in ("open", "closed"):
            raise validation("Issue", "state", "invalid")
        reason = body.get("state_reason")
        if reason is not None and reason not in (
            "completed",
            "not_planned",
            "reopened",
            "duplicate",
        ):
            raise validation("Issue", "state_reason", "invalid")
        type_id = issue.type_id
        if "type" in body:
            if body["type"] is None:
                type_id = None
            else:
                itype = self.state.issue_type_named(str(body["type"]))
                if itype is None:
                    raise validation("Issue", "type", "invalid")
                type_id = itype.id
        edits: dict[str, Any] = {}
        if "title" in body and body["title"] != issue.title:
            edits["title"] = {"from": issue.title}
            issue.title = body["title"]
        if "body" in body and body["body"] != issue.body:
            edits["body"] = {"from": issue.body}
            issue.body = _text(body["body"], "Issue", "body")
        if "assignees" in body:
            issue.assignees = [str(a) for a in body["assignees"] or []]
        elif "assignee" in body:
            issue.assignees = [body["assignee"]] if body["assignee"] else []
        if type_id != issue.type_id:
            edits["type"] = {}
        issue.type_id = type_id
        if "labels" in body:
            self.state.gh_set_labels(issue, _label_names(body["labels"]), call.user)
        if "state" in body or reason is not None:
            self.state.gh_set_state(issue, body.get("state", issue.state), call.user, reason)
        self.state.gh_edited(issue, edits, call.user)
        return 200, gj.single_issue_bytes(self.state, call.base, issue), {}

    # ----- labels ----------------------------------------------------------------------
    def _labels_reply(self, call: Call, issue: GhIssue) -> Reply:
        repo = self.state.repo(issue.repo)
        return ok(
            [gj.label_json(call.base, repo.full_name, repo.labels[n.lower()]) for n in issue.labels]
        )

    def list_issue_labels(self, call: Call) -> Reply:
        issue = self._issue(call)
        repo = self.state.repo(issue.repo)
        labels = [repo.labels[n.lower()] for n in issue.labels]
        return paged(call, labels, lambda lab: dumps(gj.label_json(call.base, repo.full_name, lab)))

    def add_issue_labels(self, call: Call) -> Reply:
        issue = self._issue(call)
        self.state.gh_add_labels(issue, _label_names(call.body), call.user)
        return self._labels_reply(call, issue)

    def set_issue_labels(self, call: Call) -> Reply:
        issue = self._issue(call)
        self.state.gh_set_labels(issue, _label_names(call.body), call.user)
        return self._labels_reply(call, issue)

    def clear_issue_labels(self, call: Call) -> Reply:
        self.state.gh_set_labels(self._issue(call), [], call.user)
        return 204, b"", {}

    def remove_issue_label(self, call: Call) -> Reply:
        issue = self._issue(call)
        try:
            self.state.gh_remove_label(issue, call.path["name"], call.user)
        except NotFound as exc:
            raise error(404, "Label does not exist") from exc
        return self._labels_reply(call, issue)

    def list_labels(self, call: Call) -> Reply:
        repo = self._repo(call)
        labels = sorted(repo.labels.values(), key=lambda lab: lab.name.lower())
        return paged(call, labels, lambda lab: dumps(gj.label_json(call.base, repo.full_name, lab)))

    def get_label(self, call: Call) -> Reply:
        repo = self._repo(call)
        label = repo.labels.get(call.path["name"].lower())
        if label is None:
            raise NotFound(call.path["name"])
        return ok(gj.label_json(call.base, repo.full_name, label))

    def create_label(self, call: Call) -> Reply:
        repo = self._repo(call)
        body = _object(call.body)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise validation("Label", "name", "missing_field")
        if name.lower() in repo.labels:
            raise validation("Label", "name", "already_exists")
        color = _color(body.get("color", "ededed"))
        label = self.state.ensure_label(repo, name, color, body.get("description"))
        data = gj.label_json(call.base, repo.full_name, label)
        return ok(data, 201, {"location": data["url"]})

    def update_label(self, call: Call) -> Reply:
        """Rename (`new_name`), recolour or describe a label; GitHub sends a `label` event."""
        repo = self._repo(call)
        body = _object(call.body)
        new_name = body.get("new_name")
        if new_name is not None and (not isinstance(new_name, str) or not new_name.strip()):
            raise validation("Label", "name", "invalid")
        color = None if body.get("color") is None else _color(body["color"])
        description = body.get("description")
        try:
            label = self.state.gh_edit_label(
                repo,
                call.path["name"],
                call.user,
                new_name=new_name,
                color=color,
                description=description if isinstance(description, str) else None,
            )
        except ValueError as exc:
            raise validation("Label", "name", "already_exists") from exc
        return ok(gj.label_json(call.base, repo.full_name, label))

    def delete_label(self, call: Call) -> Reply:
        self.state.gh_delete_label(self._repo(call), call.path["name"], call.user)
        return 204, b"", {}

    # ----- comments --------------------------------------------------------------------
    def list_comments(self, call: Call) -> Reply:
        comments = self.state.gh_issue_comments(self._issue(call))
        since = call.query.get("since")
        if since:
            cut = _since(since)
            comments = [c for c in comments if c.updated >= cut]
        return paged(call, comments, lambda c: dumps(gj.comment_json(self.state, call.base, c)))

    def list_repo_comments(self, call: Call) -> Reply:
        repo = self._repo(call)
        comments = [c for c in self.state.data.gh_comments.values() if c.repo == repo.full_name]
        if call.query.get("since"):
            cut = _since(call.query["since"])
            comments = [c for c in comments if c.updated >= cut]
        key = "updated" if call.query.get("sort") == "updated" else "created"
        comments.sort(
            key=lambda c: (getattr(c, key), c.id), reverse=call.query.get("direction") == "desc"
        )
        return paged(call, comments, lambda c: dumps(gj.comment_json(self.state, call.base, c)))

    def create_comment(self, call: Call) -> Reply:
        issue = self._issue(call)
        body = _comment_body(call.body)
        comment = self.state.gh_add_comment(issue, body, call.user)
        data = gj.comment_json(self.state, call.base, comment)
        return ok(data, 201, {"location": data["url"]})

    def _comment(self, call: Call) -> Any:
        return self.state.gh_comment(self._repo(call).full_name, call.path["comment_id"])

    def get_comment(self, call: Call) -> Reply:
        return ok(gj.comment_json(self.state, call.base, self._comment(call)))

    def edit_comment(self, call: Call) -> Reply:
        comment = self._comment(call)
        self.state.gh_edit_comment(comment, _comment_body(call.body))
        return ok(gj.comment_json(self.state, call.base, comment))

    def delete_comment(self, call: Call) -> Reply:
        self.state.gh_delete_comment(self._comment(call))
        return 204, b"", {}

    # ----- sub-issues ------------------------------------------------------------------
    def list_sub_issues(self, call: Call) -> Reply:
        children = sorted(self.state.gh_sub_issues(self._issue(call)), key=lambda i: i.id)
        return paged(call, children, self._render(call))

    def get_parent(self, call: Call) -> Reply:
        issue = self._issue(call)
        parent = self.state.gh_issue_by_key(issue.parent) if issue.parent else None
        if parent is None:
            raise NotFound("parent")
        return 200, gj.single_issue_bytes(self.state, call.base, parent), {}


def _etag(user: str, payload: bytes) -> str:
    """Weak ETag per token and body. CRC-32 of the body (fast on 200 KB pages) folded with
    the length and the token into an md5, so it looks like GitHub's and differs per token."""
    seed = f"{user}:{zlib.crc32(payload):08x}:{len(payload)}".encode()
    return 'W/"' + hashlib.md5(seed).hexdigest() + '"'


def _etags(header: str) -> set[str]:
    tags = {t.strip() for t in header.split(",") if t.strip()}
    return tags | {t if t.startswith("W/") else "W/" + t for t in tags}


def _involves(issue: GhIssue, user: str, who: str) -> bool:
    if who in ("all", "repos"):
        return True
    if who == "created":
        return issue.user == user
    if who == "mentioned":
        return f"@{user}" in (issue.body or "")
    if who == "subscribed":
        return issue.user == user or user in issue.assignees
    return user in issue.assignees


def _color(value: Any) -> str:
    color = str(value).lstrip("#")
    if len(color) != 6 or any(c not in "0123456789abcdefABCDEF" for c in color):
        raise validation("Label", "color", "invalid")
    return color.lower()


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise error(400, "Problems parsing JSON")
    return body


def _text(value: Any, resource: str, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise validation(resource, field, "invalid")
    return value


def _label_names(body: Any) -> list[str]:
    """Label names from `["a"]`, `{"labels": ["a"]}` or `[{"name": "a"}]` bodies."""
    if isinstance(body, dict):
        body = body.get("labels", [])
    if not isinstance(body, list):
        raise validation("Label", "labels", "invalid")
    names = []
    for item in body:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise validation("Label", "name", "invalid")
        names.append(name.strip())
    return names


def _comment_body(body: Any) -> str:
    text = _object(body).get("body")
    if not isinstance(text, str) or not text:
        raise error(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    if len(text) > MAX_COMMENT:
        raise validation(
            "IssueComment",
            "body",
            "custom",
            f"body is too long (maximum is {MAX_COMMENT} characters)",
        )
    return text


def _since(value: str) -> int:
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise validation("IssueComment", "since", "invalid") from exc
