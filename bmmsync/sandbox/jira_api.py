"""The Jira REST subset bmmsync uses, served under `/jira/rest/api/{2,3}`.

Cloud mode serves v2 and v3 with `search/jql` (token paging, ids-only default, optional
search lag and `reconcileIssues`) and answers the removed `search` with 410 as Cloud does
since CHANGE-2046. Server mode serves v2 only, with `search` (startAt/maxResults/total) and
the "Epic Link" custom field. Auth: basic (email + API token) or a bearer PAT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bmmsync.sandbox.jira_json import (
    CAPABILITY,
    EPIC_LINK,
    STORY_POINTS,
    TRANSITIONS,
    JiraRenderer,
    adf_text,
    is_adf,
)
from bmmsync.sandbox.jql import JqlContext, JqlError, Query, parse_jql
from bmmsync.sandbox.limits import Limits
from bmmsync.sandbox.records import JiraComment, JiraIssue
from bmmsync.sandbox.state import JIRA_BASIC, JIRA_PATS, NotFound, SandboxState
from bmmsync.sandbox.web import ApiError, Call, dumps, origin, read_json_body

MAX_COMMENT = 32767
REMOVED_SEARCH = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/"
    "#CHANGE-2046"
)

Reply = tuple[int, Any]
Handler = Callable[[Call, JiraRenderer], Reply]


def error(status: int, *messages: str, errors: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, {"errorMessages": list(messages), "errors": errors or {}})


def issue_missing() -> ApiError:
    return error(404, "Issue does not exist or you do not have permission to see it.")


class JiraApi:
    def __init__(self, state: SandboxState, limits: Limits) -> None:
        self.state = state
        self.limits = limits

    # ----- plumbing --------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        r = self._route
        return [
            r("/serverInfo", GET=self.server_info),
            r("/myself", GET=self.myself),
            r("/field", GET=self.fields),
            r("/search/jql", GET=self.search_jql, POST=self.search_jql, cloud_only=True),
            r("/search/approximate-count", POST=self.approximate_count, cloud_only=True),
            r("/search", GET=self.search, POST=self.search),
            r("/issue/{key}", GET=self.get_issue, PUT=self.edit_issue),
            r("/issue/{key}/comment", GET=self.list_comments, POST=self.add_comment),
            r(
                "/issue/{key}/comment/{cid}",
                GET=self.get_comment,
                PUT=self.edit_comment,
                DELETE=self.delete_comment,
            ),
            r("/issue/{key}/transitions", GET=self.get_transitions, POST=self.transition),
            r("/comment/{cid}/properties", GET=self.list_properties),
            r(
                "/comment/{cid}/properties/{prop}",
                GET=self.get_property,
                PUT=self.set_property,
                DELETE=self.delete_property,
            ),
        ]

    def _route(self, path: str, cloud_only: bool = False, **handlers: Handler) -> Route:
        template = "/jira/rest/api/{version}" + path

        async def endpoint(request: Request) -> Response:
            request.scope["sandbox.route"] = template
            try:
                return await self._endpoint(request, handlers, cloud_only)
            except ApiError as exc:
                return exc.response()

        return Route(
            "/rest/api/{version}" + path,
            endpoint,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )

    async def _endpoint(
        self, request: Request, handlers: dict[str, Handler], cloud_only: bool
    ) -> Response:
        version = request.path_params["version"]
        server = self.state.data.jira_deployment == "server"
        if version not in ("2", "3") or (server and (version == "3" or cloud_only)):
            raise error(404, f"No resource found for {request.url.path}")
        user = self._authenticate(request)
        request.scope["sandbox.user"] = user
        handler = handlers.get(request.method)
        if handler is None:
            raise error(405, f"Method {request.method} is not allowed here.")
        if self.limits.jira_blocked(user):
            retry = str(self.state.config.jira_retry_after)
            raise ApiError(
                429,
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                {
                    "retry-after": retry,
                    "x-ratelimit-limit": str(self.state.config.jira_rate_limit),
                    "x-ratelimit-remaining": "0",
                },
            )
        ok_body, body = await read_json_body(request)
        if not ok_body:
            raise error(400, "Unexpected character in request body: not valid JSON.")
        prefix = request.scope.get("root_path", "")
        call = Call(
            user=user,
            base=origin(request) + prefix,
            url=str(request.url),
            path={k: v for k, v in request.path_params.items() if k != "version"},
            query=request.query_params,
            body=body,
        )
        try:
            with self.state.lock:
                status, payload = handler(call, JiraRenderer(self.state, call.base, version))
        except NotFound as exc:
            raise issue_missing() from exc
        except JqlError as exc:
            raise error(400, str(exc)) from exc
        if status == 204 or payload is None:
            return Response(None, status)
        return Response(dumps(payload), status, media_type="application/json;charset=UTF-8")

    def _authenticate(self, request: Request) -> str:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        user = None
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                email = token = ""
            user = JIRA_BASIC.get((email, token))
        elif scheme.lower() == "bearer":
            user = JIRA_PATS.get(value.strip())
        if user is None:
            raise ApiError(
                401,
                {
                    "errorMessages": [
                        "You are not authenticated. Authentication required to "
                        "perform this operation."
                    ],
                    "errors": {},
                },
                {"www-authenticate": 'Basic realm="protected-area"'},
            )
        return user

    def _issue(self, call: Call) -> JiraIssue:
        return self.state.jira_issue(call.path["key"])

    # ----- instance ----------------------------------------------------------------------
    def server_info(self, call: Call, r: JiraRenderer) -> Reply:
        return 200, r.server_info()

    def myself(self, call: Call, r: JiraRenderer) -> Reply:
        return 200, r.myself(call.user)

    def fields(self, call: Call, r: JiraRenderer) -> Reply:
        return 200, r.fields()

    # ----- search ------------------------------------------------------------------------
    def _query(self, jql: Any) -> Query:
        if not isinstance(jql, str):
            jql = ""
        data = self.state.data
        projects = {p.key.upper(): p.key for p in data.projects.values()}
        projects |= {p.name.lower(): p.key for p in data.projects.values()}
        projects |= {str(p.id): p.key for p in data.projects.values()}
        ctx = JqlContext(
            projects=projects,
            issue_exists=lambda k: k in data.jira_issues,
            tz=ZoneInfo(self.state.config.jira_time_zone),
            now=self.state.clock.now(),
            server=data.jira_deployment == "server",
        )
        return parse_jql(jql, ctx)

    def _params(self, call: Call) -> dict[str, Any]:
        """Search parameters from the query string (GET) or the JSON body (POST)."""
        if isinstance(call.body, dict):
            return call.body
        q = call.query
        out: dict[str, Any] = {k: q[k] for k in q}
        for multi in ("fields", "reconcileIssues", "properties"):
            out[multi] = q.getlist(multi)
        return out

    def search_jql(self, call: Call, r: JiraRenderer) -> Reply:
        params = self._params(call)
        query = self._query(params.get("jql"))
        if not query.bounded:
            raise error(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search "
                "restriction to your query.",
            )
        wanted = _wanted(params.get("fields"), "id", r)
        limit = _int(params.get("maxResults"), 50, "maxResults")
        limit = max(1, min(limit, 5000 if not wanted else 100))
        reconcile = {int(x) for x in _list(params.get("reconcileIssues")) if str(x).isdigit()}
        if len(reconcile) > 50:
            raise error(400, "The number of issues to reconcile cannot exceed 50.")
        issues = [
            v
            for i in self.state.data.jira_issues.values()
            if (v := self._visible(i, reconcile)) is not None
        ]
        matched = query.sorted([i for i in issues if query.where and query.where(i)])
        start = _decode_token(params.get("nextPageToken"), params.get("jql"))
        chunk = matched[start : start + limit]
        out: dict[str, Any] = {"issues": [r.issue(i, wanted) for i in chunk]}
        if start + limit < len(matched):
            out["nextPageToken"] = _encode_token(start + limit, params.get("jql"))
            out["isLast"] = False
        else:
            out["isLast"] = True
        return 200, out

    def _visible(self, issue: JiraIssue, reconcile: set[int]) -> JiraIssue | None:
        """The version of `issue` the (lagging) Cloud search index sees."""
        lag = self.state.config.jira_search_lag
        if lag <= 0 or issue.id in reconcile or time.monotonic() - issue.changed_at >= lag:
            return issue
        return issue.prev

    def approximate_count(self, call: Call, r: JiraRenderer) -> Reply:
        query = self._query(_object(call.body).get("jql"))
        if not query.bounded:
            raise error(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search "
                "restriction to your query.",
            )
        where = query.where
        count = sum(1 for i in self.state.data.jira_issues.values() if where and where(i))
        return 200, {"count": count}

    def search(self, call: Call, r: JiraRenderer) -> Reply:
        if self.state.data.jira_deployment == "cloud":
            raise error(410, REMOVED_SEARCH)
        params = self._params(call)
        query = self._query(params.get("jql"))
        wanted = _wanted(params.get("fields"), "*navigable", r)
        start = max(0, _int(params.get("startAt"), 0, "startAt"))
        limit = max(0, min(_int(params.get("maxResults"), 50, "maxResults"), 1000))
        issues = list(self.state.data.jira_issues.values())
        matched = query.sorted([i for i in issues if query.where is None or query.where(i)])
        chunk = matched[start : start + limit]
        return 200, {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": limit,
            "total": len(matched),
            "issues": [r.issue(i, wanted) for i in chunk],
        }

    # ----- issues ------------------------------------------------------------------------
    def get_issue(self, call: Call, r: JiraRenderer) -> Reply:
        wanted = _wanted(call.query.getlist("fields"), "*all", r)
        return 200, r.issue(self._issue(call), wanted)

    def edit_issue(self, call: Call, r: JiraRenderer) -> Reply:
        issue = self._issue(call)
        body = _object(call.body)
        changes = self._field_changes(_object(body.get("fields")), issue, r)
        for name, ops in _object(body.get("update")).items():
            changes |= self._update_ops(name, ops, issue, changes, r)
        if not changes:
            return 204, None
        try:
            self.state.jira_update(issue, call.user, **changes)
        except ValueError as exc:
            raise error(400, errors={"labels": str(exc)}) from exc
        if call.query.get("returnIssue") == "true":
            return 200, r.issue(issue)
        return 204, None

    def _field_changes(
        self, fields: dict[str, Any], issue: JiraIssue, r: JiraRenderer
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for name, value in fields.items():
            if name == "summary" and isinstance(value, str) and value.strip():
                changes["summary"] = value
            elif name == "description":
                changes["description"] = self._body_text(value, r, "description")
            elif name == "labels" and isinstance(value, list):
                changes["labels"] = [str(v) for v in value]
            elif name == CAPABILITY:
                changes["capability"] = value
            elif name == STORY_POINTS and (value is None or isinstance(value, int | float)):
                changes["story_points"] = value
            elif name == "parent":
                changes["parent"] = self._parent_key(value)
            elif name == EPIC_LINK and r.server:
                changes["epic_link"] = self._parent_key(value)
            elif name == "assignee":
                changes["assignee"] = _account(value)
            else:
                bad[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate "
                    f"screen, or unknown."
                )
        if bad:
            raise error(400, errors=bad)
        return changes

    def _update_ops(
        self, name: str, ops: Any, issue: JiraIssue, changes: dict[str, Any], r: JiraRenderer
    ) -> dict[str, Any]:
        if not isinstance(ops, list):
            raise error(400, errors={name: "Operation value must be a list."})
        if name != "labels":
            merged: dict[str, Any] = {}
            for op in ops:
                if not isinstance(op, dict) or "set" not in op:
                    raise error(
                        400, errors={name: f"Field '{name}' does not support this operation."}
                    )
                merged |= self._field_changes({name: op["set"]}, issue, r)
            return merged
        labels = list(changes.get("labels", issue.labels))
        for op in ops:
            if not isinstance(op, dict) or len(op) != 1:
                raise error(400, errors={"labels": "Invalid operation."})
            ((verb, value),) = op.items()
            if verb == "add" and isinstance(value, str):
                if value not in labels:
                    labels.append(value)
            elif verb == "remove" and isinstance(value, str):
                labels = [x for x in labels if x != value]
            elif verb == "set" and isinstance(value, list):
                labels = [str(v) for v in value]
            else:
                raise error(400, errors={"labels": f"Operation '{verb}' is not valid here."})
        return {"labels": labels}

    def _parent_key(self, value: Any) -> str | None:
        if value is None:
            return None
        ref = value.get("key") or value.get("id") if isinstance(value, dict) else value
        try:
            return self.state.jira_issue(str(ref)).key
        except NotFound as exc:
            raise error(
                400, errors={"parent": f"Could not find issue by id or key: {ref}"}
            ) from exc

    def _body_text(self, value: Any, r: JiraRenderer, field: str) -> str | None:
        if value is None:
            return None
        if r.version == "3":
            if not is_adf(value):
                raise error(
                    400,
                    errors={
                        field: "Operation value must be an Atlassian "
                        "Document (see the Atlassian Document Format)"
                    },
                )
            return adf_text(value)
        if not isinstance(value, str):
            raise error(400, errors={field: "Operation value must be a string"})
        return value

    # ----- comments ----------------------------------------------------------------------
    def _comment_input(self, call: Call, r: JiraRenderer) -> tuple[str, dict[str, Any] | None]:
        body = _object(call.body).get("body")
        text = self._body_text(body, r, "comment")
        if not text:
            raise error(400, errors={"comment": "Comment body can not be empty!"})
        if len(text) > MAX_COMMENT:
            raise error(
                400,
                errors={
                    "comment": "The entered text is too long. It exceeds the "
                    "allowed limit of 32,767 characters."
                },
            )
        return text, body if r.version == "3" else None

    def list_comments(self, call: Call, r: JiraRenderer) -> Reply:
        start = max(0, _int(call.query.get("startAt"), 0, "startAt"))
        limit = max(1, min(_int(call.query.get("maxResults"), 100, "maxResults"), 100))
        page = r.comments_page(self._issue(call), start, limit)
        page.pop("self")
        return 200, page

    def add_comment(self, call: Call, r: JiraRenderer) -> Reply:
        issue = self._issue(call)
        text, doc = self._comment_input(call, r)
        props = _object(call.body).get("properties") or []
        if not isinstance(props, list) or not all(
            isinstance(p, dict) and "key" in p for p in props
        ):
            raise error(400, errors={"properties": "Invalid properties."})
        comment = self.state.jira_add_comment(
            issue, text, call.user, doc, {p["key"]: p.get("value") for p in props}
        )
        return 201, r.comment(comment)

    def _comment(self, call: Call) -> JiraComment:
        issue = self._issue(call)
        comment = self.state.jira_comment(call.path["cid"])
        if comment.issue_id != issue.id:
            raise error(404, f"Can not find a comment for the id: {call.path['cid']}.")
        return comment

    def get_comment(self, call: Call, r: JiraRenderer) -> Reply:
        return 200, r.comment(self._comment(call))

    def edit_comment(self, call: Call, r: JiraRenderer) -> Reply:
        comment = self._comment(call)
        text, doc = self._comment_input(call, r)
        self.state.jira_edit_comment(comment, text, call.user, doc)
        return 200, r.comment(comment)

    def delete_comment(self, call: Call, r: JiraRenderer) -> Reply:
        self.state.jira_delete_comment(self._comment(call))
        return 204, None

    def _property_comment(self, call: Call) -> JiraComment:
        try:
            return self.state.jira_comment(call.path["cid"])
        except NotFound as exc:
            raise error(404, f"Can not find a comment for the id: {call.path['cid']}.") from exc

    def list_properties(self, call: Call, r: JiraRenderer) -> Reply:
        comment = self._property_comment(call)
        return 200, {
            "keys": [
                {"key": k, "self": f"{r.api}/comment/{comment.id}/properties/{k}"}
                for k in comment.properties
            ]
        }

    def get_property(self, call: Call, r: JiraRenderer) -> Reply:
        comment = self._property_comment(call)
        key = call.path["prop"]
        if key not in comment.properties:
            raise error(404, f"The property with key '{key}' does not exist.")
        return 200, {"key": key, "value": comment.properties[key]}

    def set_property(self, call: Call, r: JiraRenderer) -> Reply:
        comment = self._property_comment(call)
        if call.body is None:
            raise error(400, "The property value must be valid JSON.")
        created = self.state.jira_set_comment_property(comment, call.path["prop"], call.body)
        return (201 if created else 200), None

    def delete_property(self, call: Call, r: JiraRenderer) -> Reply:
        comment = self._property_comment(call)
        key = call.path["prop"]
        with self.state.lock:
            if comment.properties.pop(key, None) is None:
                raise error(404, f"The property with key '{key}' does not exist.")
            self.state.changed()
        return 204, None

    # ----- transitions -------------------------------------------------------------------
    def get_transitions(self, call: Call, r: JiraRenderer) -> Reply:
        self._issue(call)
        return 200, r.transitions()

    def transition(self, call: Call, r: JiraRenderer) -> Reply:
        issue = self._issue(call)
        tid = str(_object(_object(call.body).get("transition")).get("id", ""))
        if tid not in TRANSITIONS:
            raise error(400, f"Transition id '{tid}' is not valid for this issue.")
        self.state.jira_update(issue, call.user, status=TRANSITIONS[tid])
        return 204, None


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error(400, "Can not deserialize instance of object out of the request body.")
    return value


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [x for v in value for x in (str(v).split(",") if isinstance(v, str) else [v])]
    return str(value).split(",")


def _int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise error(400, f"The value '{value}' is not valid for '{name}'.") from exc


def _account(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("accountId") or value.get("name"))
    return str(value)


def _wanted(values: Any, default: str, r: JiraRenderer) -> set[str] | None:
    """Field ids asked for: None = all, empty = id only (Cloud search's default)."""
    names = [n.strip() for n in _list(values) if str(n).strip()] or [default]
    every = {f["id"] for f in r.fields()}
    by_name = {f["name"].lower(): f["id"] for f in r.fields()}
    include_all = any(n in ("*all", "*navigable") for n in names)
    excluded = {by_name.get(n[1:].lower(), n[1:]) for n in names if n.startswith("-")}
    chosen = {by_name.get(n.lower(), n) for n in names if n[0] not in "-*"} - {"id", "key"}
    if include_all:
        return None if not excluded else every - excluded
    return (chosen & every) - excluded


def _encode_token(offset: int, jql: Any) -> str:
    digest = hashlib.sha1(str(jql).encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _decode_token(token: Any, jql: Any) -> int:
    if not token:
        return 0
    try:
        offset, _, digest = base64.urlsafe_b64decode(str(token)).decode().partition(":")
        if digest != hashlib.sha1(str(jql).encode()).hexdigest()[:12]:
            raise ValueError(token)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise error(400, "The provided next page token is invalid or expired.") from exc
