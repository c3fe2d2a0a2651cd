"""Jira Cloud and Server/Data Center through the jira library's authenticated session.

Searches are sent on `JIRA._session` directly: the library's `enhanced_search_issues` uses
`/rest/api/2/search/jql`, silently returns None unless it believes it is on Cloud, and hides
the paging we must control (Cloud: `/rest/api/3/search/jql` + `nextPageToken`; Server/DC:
`/rest/api/2/search` + `startAt`). The session's own retries are off (`max_retries=0`) so
`connectors.http_errors` is the one retry policy. Per run (per connector instance) the
deployment, the user's time zone and the field ids are fetched once, lazily.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from jira import JIRA

from bmmsync.domain import Ticket
from bmmsync.errors import SourceError
from connectors.base import (
    CommentBody,
    CommentFormat,
    CommentHints,
    CommentRef,
    CommentTooLong,
    ConnectorOptions,
    Cursor,
    Page,
    Stats,
    WriteThrottle,
)
from connectors.http_errors import Retrier
from connectors.jira.tickets import (
    FieldIds,
    key_in_scope_jql,
    parse_time,
    polling_jql,
    since_for,
    text_to_adf,
    to_ticket,
    utc_iso,
)
from connectors.paging import follow_pages

if TYPE_CHECKING:
    from bmmsync.config.settings import JiraSource

log = logging.getLogger(__name__)

COMMENT_LIMIT = 32_767
PROPERTY_KEY = "bmmsync"
JQL_STREAM = "jql"


def _read_environment_once(session: requests.Session, url: str) -> None:
    """The proxy and CA-bundle settings of the environment, read once for the source's host
    instead of on every request: `requests` scans `os.environ` twice per call (7 ms of CPU
    per request measured in the webhook worker). Same settings, as `trust_env` reads them."""
    if not session.trust_env:
        return
    proxies = requests.utils.get_environ_proxies(url, session.proxies.get("no_proxy"))
    session.proxies = {**proxies, **session.proxies}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if session.verify is True and bundle:
        session.verify = bundle
    session.trust_env = False


class JiraConnector:
    """One `kind: jira` source: one JQL listing."""

    kind = "jira"

    def __init__(self, source: JiraSource, options: ConnectorOptions) -> None:
        self.name = source.name
        self.source = source
        self.options = options
        self.stats = Stats()
        token = source.token.get_secret_value()
        self._jira = JIRA(
            server=source.url,
            basic_auth=(source.email, token) if source.email else None,
            token_auth=None if source.email else token,
            get_server_info=False,
            max_retries=0,
            timeout=options.timeout,
            options={"check_update": False},
        )
        self._jira._session.hooks["response"].append(self._count)
        _read_environment_once(self._jira._session, source.url)
        what = "`email` and `token`" if source.email else "`token` (a personal access token)"
        self._retrier = Retrier(
            source.name,
            f"{what} of source {source.name!r} (or the environment variable it names)",
            options.sleep,
        )
        self._throttle = WriteThrottle(options.write_interval, options.sleep)
        self.comment_hints = CommentHints()
        self._server = source.url.rstrip("/")

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.stats.requests += 1

    # ------------------------------------------------------------------ plumbing

    def _url(self, path: str, version: str | None = None) -> str:
        return f"{self._server}/rest/api/{version or self.api_version}/{path}"

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        tolerate: tuple[int, ...] = (),
    ) -> Any:
        """JSON answer of one call through the retry policy (None: tolerated or no body)."""
        result: list[Any] = []

        def call() -> None:
            data = None if body is None else json.dumps(body)
            response = self._jira._session.request(method, url, params=params, data=data)
            result.append(response.json() if response.content.strip() else None)

        if not self._retrier.call_tolerating(call, what, tolerate):
            return None
        return result[-1]

    def _write(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        with self._throttle:
            return self._call(method, url, what, **kwargs)

    @cached_property
    def cloud(self) -> bool:
        """From the config, else `serverInfo`'s deploymentType (one request per run)."""
        if self.source.deployment is not None:
            return self.source.deployment == "cloud"
        info = self._call("GET", self._url("serverInfo", "2"), "reading serverInfo")
        return isinstance(info, dict) and info.get("deploymentType") == "Cloud"

    @property
    def api_version(self) -> str:
        return "3" if self.cloud else "2"

    @property
    def comment_format(self) -> CommentFormat:
        return "adf" if self.cloud else "jira-wiki"

    @cached_property
    def _myself(self) -> dict[str, Any]:
        me = self._call("GET", self._url("myself", "2"), "reading the bot user (myself)")
        if not isinstance(me, dict):
            raise SourceError(self.name, "reading myself: malformed answer")
        return me

    @cached_property
    def time_zone(self) -> str:
        """The Jira user's zone: JQL dates are read in it."""
        return str(self._myself.get("timeZone") or "UTC")

    @cached_property
    def field_ids(self) -> FieldIds:
        """Configured field names -> ids, from one `/field` request per run."""
        listed = self._call("GET", self._url("field", "2"), "listing fields")
        if not isinstance(listed, list):
            raise SourceError(self.name, "listing fields: malformed answer (expected a list)")
        by_name: dict[str, str] = {}
        for field in listed:
            by_name.setdefault(str(field["id"]).lower(), str(field["id"]))
            by_name.setdefault(str(field.get("name", "")).lower(), str(field["id"]))
            for clause in field.get("clauseNames") or ():
                by_name.setdefault(str(clause).lower(), str(field["id"]))

        def resolve(name: str | None, setting: str, required: bool) -> str | None:
            if not name:
                return None
            found = by_name.get(name.lower())
            if found is None and required:
                raise SourceError(
                    self.name, f"{setting}: Jira has no field named {name!r} (nor with that id)"
                )
            if found is None:
                log.info("field not on this site", extra={"source": self.name, "field": name})
            return found

        capability = self.source.capability_field or self.options.capability_field
        return FieldIds(
            # Stored under the mapping's name when it has one: that is what the trace reads.
            capability_name=self.options.capability_field or capability,
            capability=resolve(capability, "capability_field", True),
            story_points=resolve(self.source.story_points_field, "story_points_field", False),
            epic_link=None
            if self.cloud
            else resolve(self.source.epic_link_field, "epic_link_field", False),
        )

    # ------------------------------------------------------------------ read path

    def streams(self) -> list[str]:
        return [JQL_STREAM]

    def read(self, stream: str, cursor: Cursor, *, full: bool = False) -> Iterator[Page]:
        since = None if full else since_for(cursor.value, self.options.overlap_seconds)
        ids = self.field_ids
        jql = polling_jql(self.source.jql, since, self.time_zone if since else "UTC")
        fields = ",".join(ids.requested())
        what = f"searching {self.source.jql!r}"
        size = self.options.page_size

        def fetch(token: Any) -> tuple[list[Any], Any]:
            params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": size}
            if token is not None:
                params["nextPageToken"] = token
            data = self._call("GET", self._url("search/jql"), what, params=params)
            if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
                raise SourceError(self.name, f"{what}: malformed page (no issues list)")
            following = None if data.get("isLast", True) else data.get("nextPageToken")
            return data["issues"], following

        seen: set[tuple[str, str]] = set()
        newest = None if full else parse_time(cursor.value)
        pages = (
            follow_pages(fetch, source=self.name, what=what)
            if self.cloud
            else self._offset_pages(jql, fields, what)
        )
        for issues in pages:
            tickets: list[Ticket] = []
            for issue in issues:
                try:
                    ticket = to_ticket(self.name, self._server, issue, ids, cloud=self.cloud)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise SourceError(self.name, f"{what}: malformed issue: {exc!r}") from None
                updated = ticket.updated
                ident = (ticket.key, updated.isoformat() if updated else "")
                if ident in seen:
                    continue
                seen.add(ident)
                tickets.append(ticket)
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
            value = utc_iso(newest) if newest else cursor.value
            yield Page(stream, tickets, Cursor(value, None))

    def _offset_pages(self, jql: str, fields: str, what: str) -> Iterator[list[Any]]:
        """Server/Data Center `startAt` pages that survive edits made while paging.

        An issue edited (or deleted) during paging leaves its place in the `updated` order,
        so every later offset shifts back by one and a plain `startAt` walk skips an issue.
        Each page therefore starts on the last issue of the page before (the anchor) and
        yields only what follows it; when the anchor is not there, earlier issues moved away,
        and the walk steps back until it finds the anchor (or restarts from the top). What
        is read twice is dropped by the caller's de-duplication.
        """
        size = self.options.page_size
        start, anchor, budget = 0, None, None
        while True:
            begin = max(0, start - 1) if anchor else start
            params = {"jql": jql, "fields": fields, "startAt": begin}
            params["maxResults"] = size + (1 if anchor else 0)
            data = self._call("GET", self._url("search"), what, params=params)
            if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
                raise SourceError(self.name, f"{what}: malformed page (no issues list)")
            issues, total = data["issues"], int(data.get("total") or 0)
            if budget is None:
                budget = 3 * (total // max(1, size) + 1) + 10
            budget -= 1
            if budget < 0:
                raise SourceError(self.name, f"{what}: results kept shifting while paging")
            keys = [str(issue.get("key")) if isinstance(issue, dict) else "" for issue in issues]
            if anchor is not None and anchor in keys:
                fresh = keys.index(anchor) + 1
            elif anchor is not None and begin > 0:
                start = max(1, begin - size + 1)  # look for the anchor one page earlier
                continue
            else:
                fresh = 0  # no anchor yet, or it moved away: read from the top again
            yield issues[fresh:]
            after = begin + len(issues)
            if not issues or after >= total:
                return
            start, anchor = after, keys[-1]

    def fetch(self, key: str) -> Ticket | None:
        ids = self.field_ids
        issue = self._call(
            "GET",
            self._url(f"issue/{key}"),
            f"reading {key}",
            params={"fields": ",".join([*ids.requested(), "comment"])},
            tolerate=(404,),
        )
        if not isinstance(issue, dict):
            return None
        self.comment_hints.saw(key, self._none_ours((issue.get("fields") or {}).get("comment")))
        return to_ticket(self.name, self._server, issue, ids, cloud=self.cloud)

    def _none_ours(self, page: Any) -> bool:
        """The issue's `comment` field lists every comment and none is the bot user's."""
        if not isinstance(page, dict) or not isinstance(page.get("comments"), list):
            return False
        comments = page["comments"]
        if int(page.get("total") or 0) > len(comments):
            return False
        return not any(self._mine(comment) for comment in comments)

    @cached_property
    def _my_ids(self) -> set[Any]:
        """The bot user's ids, as comment authors carry them (Cloud: accountId; DC: name, key)."""
        me = self._myself
        return {me.get("accountId"), me.get("name"), me.get("key")} - {None}

    def _mine(self, comment: dict[str, Any]) -> bool:
        author = comment.get("author") or {}
        ids = {author.get("accountId"), author.get("name"), author.get("key")}
        return bool(self._my_ids & ids)

    def watches(self, key: str) -> bool:
        """Whether the source's JQL covers `key` (one search): a Jira webhook may name any
        issue of the site. Cloud's search can lag a just-created issue; it is then left to
        the next poll, which lists it once the search sees it."""
        params = {
            "jql": key_in_scope_jql(self.source.jql, key),
            "fields": "key",
            "maxResults": 1,
        }
        path = "search/jql" if self.cloud else "search"
        what = f"checking {key} against the JQL"
        found = self._call("GET", self._url(path), what, params=params, tolerate=(400,))
        return isinstance(found, dict) and bool(found.get("issues"))

    # ------------------------------------------------------------------ writes

    def ensure_label(self, project: str, name: str, color: str, description: str) -> None:
        """Jira labels need no creating: a no-op, so the bot can call it everywhere."""

    def _labels(self, key: str, op: str, label: str, tolerate: tuple[int, ...]) -> None:
        self._write(
            "PUT",
            self._url(f"issue/{key}"),
            f"{'adding' if op == 'add' else 'removing'} label {label!r} on {key}",
            body={"update": {"labels": [{op: label}]}},
            tolerate=tolerate,
        )

    def add_label(self, key: str, label: str) -> None:
        """An `add` operation, not a replace: no race with humans editing labels."""
        self._labels(key, "add", label, ())

    def remove_label(self, key: str, label: str) -> None:
        """Idempotent: Jira ignores removing an absent label; an issue gone (404) is done."""
        self._labels(key, "remove", label, (404,))

    def _body(self, body: CommentBody, marker: str) -> dict[str, Any]:
        """Comment JSON with the marker as a comment property (invisible to readers)."""
        if self.cloud:
            rendered: Any = text_to_adf(body) if isinstance(body, str) else body
            size = len(json.dumps(rendered, separators=(",", ":")))
        else:
            if not isinstance(body, str):
                raise TypeError("Jira Server/Data Center comments take wiki markup text")
            rendered, size = body, len(body)
        if size > COMMENT_LIMIT:
            raise CommentTooLong(self.name, size, COMMENT_LIMIT)
        return {
            "body": rendered,
            "properties": [{"key": PROPERTY_KEY, "value": {"marker": marker}}],
        }

    def create_comment(self, key: str, body: CommentBody, marker: str) -> CommentRef:
        self.comment_hints.drop(key)
        answer = self._write(
            "POST",
            self._url(f"issue/{key}/comment"),
            f"commenting on {key}",
            body=self._body(body, marker),
        )
        if not isinstance(answer, dict) or "id" not in answer:
            raise SourceError(self.name, f"commenting on {key}: malformed answer")
        return CommentRef(str(answer["id"]))

    def find_comment(self, key: str, marker: str) -> CommentRef | None:
        """Our comment by its property: only comments authored by the bot user are checked,
        with one property read each unless the listing already carries properties. No
        request when the issue's fresh read showed no comment of the bot user."""
        if self.comment_hints.take(key):
            return None
        what = f"listing comments of {key}"

        def fetch(start: int | None) -> tuple[list[Any], int | None]:
            data = self._call(
                "GET",
                self._url(f"issue/{key}/comment"),
                what,
                params={"startAt": start or 0, "maxResults": 100, "expand": "properties"},
            )
            if not isinstance(data, dict):
                raise SourceError(self.name, f"{what}: malformed answer")
            comments = data.get("comments") or []
            after = (start or 0) + len(comments)
            return comments, after if comments and after < int(data.get("total") or 0) else None

        for comments in follow_pages(fetch, source=self.name, what=what):
            for comment in comments:
                if self._mine(comment) and self._marker_of(comment) == marker:
                    return CommentRef(str(comment["id"]))
        return None

    def _marker_of(self, comment: dict[str, Any]) -> str | None:
        props = comment.get("properties")
        if props is None:
            prop = self._call(
                "GET",
                self._url(f"comment/{comment['id']}/properties/{PROPERTY_KEY}"),
                f"reading comment {comment['id']} property",
                tolerate=(404,),
            )
            props = [prop] if isinstance(prop, dict) else []
        for prop in props:
            value = prop.get("value") if isinstance(prop, dict) else None
            if prop.get("key") == PROPERTY_KEY and isinstance(value, dict):
                return str(value.get("marker"))
        return None

    def update_comment(self, key: str, comment_id: str, body: CommentBody, marker: str) -> None:
        self._write(
            "PUT",
            self._url(f"issue/{key}/comment/{comment_id}"),
            f"updating comment {comment_id} on {key}",
            body=self._body(body, marker),
        )

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Idempotent: a comment already gone (404) counts as deleted."""
        self._write(
            "DELETE",
            self._url(f"issue/{key}/comment/{comment_id}"),
            f"deleting comment {comment_id} on {key}",
            tolerate=(404,),
        )

    def _status(self, key: str) -> dict[str, Any]:
        issue = self._call(
            "GET", self._url(f"issue/{key}"), f"reading {key}", params={"fields": "status"}
        )
        return ((issue or {}).get("fields") or {}).get("status") or {}

    def _transitions(self, key: str) -> list[dict[str, Any]]:
        data = self._call(
            "GET", self._url(f"issue/{key}/transitions"), f"listing transitions of {key}"
        )
        return list((data or {}).get("transitions") or [])

    def _do(self, key: str, transition: dict[str, Any]) -> None:
        self._write(
            "POST",
            self._url(f"issue/{key}/transitions"),
            f"transitioning {key} ({transition.get('name')})",
            body={"transition": {"id": str(transition["id"])}},
        )

    def transition(self, key: str, state_name: str) -> None:
        """Move to the status named (or take the transition named); no-op if already there."""
        wanted = state_name.strip().lower()
        if str(self._status(key).get("name", "")).lower() == wanted:
            return
        for option in self._transitions(key):
            target = str((option.get("to") or {}).get("name", "")).lower()
            if wanted in (target, str(option.get("name", "")).lower()):
                self._do(key, option)
                return
        raise SourceError(self.name, f"{key}: no transition to {state_name!r} is available")

    def close(self, key: str, reason: str) -> None:
        """Take the first transition into a done-category status; no-op if already done.
        `reason` is logged: resolutions differ per site and screen."""
        if (self._status(key).get("statusCategory") or {}).get("key") == "done":
            return
        for option in self._transitions(key):
            category = ((option.get("to") or {}).get("statusCategory") or {}).get("key")
            if category == "done":
                log.info("closing", extra={"source": self.name, "key": key, "reason": reason})
                self._do(key, option)
                return
        raise SourceError(self.name, f"{key}: no transition to a done status is available")
