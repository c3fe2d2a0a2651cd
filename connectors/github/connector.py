"""GitHub (and GitHub Enterprise Server) through PyGithub's requester.

Listings go through `requester.requestJsonAndCheck` rather than `PaginatedList`: that is the
only way to send `If-None-Match` (a poll with nothing new is one request answered 304, which
costs no rate limit) and to read exactly what a list page carries. PyGithub's own retries and
request spacing are switched off: `connectors.http_errors` is the one retry policy, and
`WriteThrottle` spaces writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from github import Auth, Github

from bmmsync.domain import Ticket
from bmmsync.errors import SourceError
from connectors.base import (
    LOST,
    CommentBody,
    CommentFormat,
    CommentHints,
    CommentRef,
    CommentTooLong,
    ConnectorOptions,
    Cursor,
    Listing,
    Page,
    Stats,
    StreamLost,
    WriteThrottle,
    marker_tag,
)
from connectors.github.tickets import parse_time, to_ticket
from connectors.http_errors import Retrier, seconds_until_reset
from connectors.paging import follow_pages

if TYPE_CHECKING:
    from bmmsync.config.settings import GitHubSource

log = logging.getLogger(__name__)

COMMENT_LIMIT = 65_536
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
_KEY = re.compile(r"^([\w.-]+/[\w.-]+)#(\d+)$")
Response = tuple[dict[str, Any], Any]
_LISTING_PASSES = 3
"""Readings of one listing when issues keep being edited while it is paged."""


def next_link(headers: dict[str, Any]) -> str | None:
    match = _NEXT_LINK.search(str(headers.get("link") or ""))
    return match.group(1) if match else None


def split_key(key: str) -> tuple[str, int]:
    """`owner/repo#7` -> (`owner/repo`, 7)."""
    match = _KEY.match(key)
    if not match:
        raise ValueError(f"not a GitHub issue key (owner/repo#N): {key!r}")
    return match.group(1), int(match.group(2))


def _encode_etag(since: str | None, etag: str | None) -> str | None:
    """The stored ETag is only valid for the `since` it was answered for: keep them together."""
    return f"{since or '-'} {etag}" if etag else None


def _decode_etag(stored: str | None, since: str | None) -> str | None:
    if not stored or " " not in stored:
        return None
    for_since, etag = stored.split(" ", 1)
    return etag if for_since == (since or "-") else None


class GitHubConnector:
    """One `kind: github` source: its orgs (one listing each) and its other repos."""

    kind = "github"
    comment_format: CommentFormat = "markdown"

    def __init__(self, source: GitHubSource, options: ConnectorOptions) -> None:
        self.name = source.name
        self.source = source
        self.options = options
        self.stats = Stats()
        if source.token is not None:
            auth: Auth.Auth = Auth.Token(source.token.get_secret_value())
            hint = f"`token` of source {source.name!r} (or the environment variable it names)"
        else:
            assert source.private_key_file is not None and source.installation_id is not None
            key = source.private_key_file.read_text(encoding="utf-8")
            auth = Auth.AppAuth(source.app_id or 0, key).get_installation_auth(
                source.installation_id
            )
            hint = (
                f"GitHub App settings of source {source.name!r} "
                "(app_id, private_key_file, installation_id)"
            )
        self._gh = Github(
            base_url=source.base_url,
            auth=auth,
            timeout=max(1, round(options.timeout)),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            per_page=options.page_size,
        )
        self._retrier = Retrier(source.name, hint, options.sleep)
        self._throttle = WriteThrottle(options.write_interval, options.sleep)
        self.comment_hints = CommentHints()

    # ------------------------------------------------------------------ plumbing

    def _request(
        self,
        verb: str,
        url: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        tolerate: tuple[int, ...] = (),
    ) -> Response | None:
        """One call through the retry policy; None when a tolerated status answered."""
        result: list[Response] = []

        def call() -> None:
            self.stats.requests += 1
            result.append(self._gh.requester.requestJsonAndCheck(verb, url, params, headers, body))

        if not self._retrier.call_tolerating(call, what, tolerate):
            return None
        answer_headers = result[-1][0]
        self._note_rate_limit(answer_headers)
        return result[-1]

    def _note_rate_limit(self, headers: dict[str, Any]) -> None:
        """Keep the budget for the summary, and wait for the reset when it runs low."""
        remaining = str(headers.get("x-ratelimit-remaining", ""))
        limit = str(headers.get("x-ratelimit-limit", ""))
        if not remaining.isdigit():
            return
        self.stats.rate_limit_left = int(remaining)
        low_water = int(limit) // 100 if limit.isdigit() else 0
        if int(remaining) <= low_water:
            delay = seconds_until_reset(headers)
            log.warning(
                "rate limit low; waiting for the reset",
                extra={"source": self.name, "remaining": remaining, "seconds": round(delay)},
            )
            self.options.sleep(delay)

    def _write(self, verb: str, url: str, what: str, **kwargs: Any) -> Response | None:
        with self._throttle:
            return self._request(verb, url, what, **kwargs)

    # ------------------------------------------------------------------ read path

    def streams(self) -> list[str]:
        """One listing per org (`org:acme`, naming `org:acme/web`...) and one stream per
        other repo; repos of a configured org are covered by its listing."""
        orgs = {org.lower() for org in self.source.orgs}
        repos = [r for r in self.source.repos if r.split("/")[0].lower() not in orgs]
        return [f"org:{org}" for org in self.source.orgs] + [f"repo:{repo}" for repo in repos]

    def listing(self, stream: str, cursor: Cursor, known: Mapping[str, Cursor]) -> Listing | None:
        """An org's repositories, one stream each (`org:acme/web`).

        `/orgs/{org}/issues` is closed to Apps and lists only the user's own issues for a
        token, so the repositories are listed instead: `/installation/repositories` for an
        App, `/orgs/{org}/repos` for a token. The listing is conditional when it fits in one
        page; a repository known before and missing now is reported lost, its tickets kept.
        """
        kind, _, org = stream.partition(":")
        if kind != "org" or "/" in org:
            return None
        app = self.source.token is None
        if app:
            url, params = "/installation/repositories", {"per_page": "100"}
            what = f"listing the repositories of org {org} the App installation reaches"
        else:
            url, params = f"/orgs/{org}/repos", {"type": "all", "per_page": "100"}
            what = f"listing the repositories of org {org}"
        prefix = f"org:{org.lower()}/"
        mine = {s: c for s, c in known.items() if s.lower().startswith(prefix)}
        etag = _decode_etag(cursor.etag, "repos")

        def fetch(page_url: str | None) -> tuple[Response, str | None]:
            headers = {"If-None-Match": etag} if etag and page_url is None else None
            answer = self._request("GET", page_url or url, what, params=params, headers=headers)
            assert answer is not None
            return answer, next_link(answer[0])

        names: list[str] = []
        pages = 0
        first_etag = None
        for headers, data in follow_pages(fetch, source=self.name, what=what):
            if data is None and etag:
                self.stats.not_modified += 1
                poll = tuple(sorted(s for s, c in mine.items() if c != LOST))
                lost = {s: s.partition(":")[2] for s, c in mine.items() if c == LOST}
                return Listing(poll, lost, cursor, not_modified=True)
            pages += 1
            first_etag = first_etag or headers.get("etag")
            repos = data.get("repositories") if app and isinstance(data, dict) else data
            if not isinstance(repos, list):
                raise SourceError(self.name, f"{what}: malformed page (expected a list)")
            for repo in repos:
                try:
                    full_name = str(repo["full_name"])
                except (KeyError, TypeError):
                    raise SourceError(self.name, f"{what}: malformed repository") from None
                if full_name.lower().startswith(f"{org.lower()}/"):
                    names.append(f"org:{full_name}")
        if app and not names and not mine:
            raise SourceError(
                self.name,
                f"{what}: it reaches none (is the App installed on {org}, "
                "with access to its repositories?)",
            )
        listed = {n.lower() for n in names}
        lost = {s: s.partition(":")[2] for s in mine if s.lower() not in listed}
        # Only a one-page answer is cached: a 304 on page 1 says nothing about page 2.
        stored = _encode_etag("repos", first_etag) if pages == 1 else None
        return Listing(tuple(sorted(names)), lost, Cursor(None, stored))

    def read(self, stream: str, cursor: Cursor, *, full: bool = False) -> Iterator[Page]:
        kind, _, target = stream.partition(":")
        listed = kind == "org" and "/" in target  # a repository named by an org's listing
        if kind == "repo" or listed:
            url, params = f"/repos/{target}/issues", dict[str, str]()
            what = f"listing issues of repo {target}"
        else:
            raise ValueError(f"unknown GitHub stream {stream!r}")
        last = None if full else parse_time(cursor.value)
        since = None
        if last is not None:
            since = (last - timedelta(seconds=self.options.overlap_seconds)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        params |= {"state": "all", "sort": "updated", "direction": "asc"}
        params["per_page"] = str(min(100, self.options.page_size))
        etag = None if full else _decode_etag(cursor.etag, since)
        first_etag: list[str | None] = []

        def pages_from(start: str | None, conditional: bool) -> Iterator[Response]:
            def fetch(page_url: str | None) -> tuple[Response, str | None]:
                if page_url is None:
                    query = params | ({"since": start} if start else {})
                    headers = {"If-None-Match": etag} if conditional and etag else None
                    answer = self._request(
                        "GET",
                        url,
                        what,
                        params=query,
                        headers=headers,
                        tolerate=(404, 410) if listed else (),
                    )
                    if answer is None:
                        raise StreamLost(
                            self.name, f"{what}: no longer reachable (404)", project=target
                        )
                    if conditional:
                        first_etag.append(answer[0].get("etag"))
                else:
                    answer = self._request("GET", page_url, what)
                    assert answer is not None
                return answer, next_link(answer[0])

            return follow_pages(fetch, source=self.name, what=what)

        seen: set[tuple[str, str]] = set()
        newest = cursor.value if not full else None
        start, conditional = since, True
        for _ in range(_LISTING_PASSES):
            # `page=N` counts from the top: an issue edited while paging moves to the end and
            # the next page starts one issue later, skipping one. Such an issue shows up twice;
            # the listing is then read again from where it was first seen.
            first_seen: dict[Any, str] = {}
            moved: str | None = None
            for page_no, (headers, data) in enumerate(pages_from(start, conditional), 1):
                is_last = next_link(headers) is None
                if data is None and etag and conditional:
                    self.stats.not_modified += 1
                    yield Page(stream, [], cursor, not_modified=True)
                    return
                if not isinstance(data, list):
                    raise SourceError(self.name, f"{what}: malformed page (expected a JSON list)")
                tickets: list[Ticket] = []
                for item in data:
                    try:
                        updated = str(item["updated_at"])
                        if newest is None or parse_time(updated) > parse_time(newest):  # type: ignore[operator]
                            newest = updated
                        before = first_seen.setdefault(item.get("number"), updated)
                        # ISO 8601 in UTC ("...Z"): the strings sort as the times do
                        if before != updated and (moved is None or before < moved):
                            moved = before
                        if "pull_request" in item:
                            continue
                        ticket = to_ticket(self.name, item)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        raise SourceError(
                            self.name, f"{what}: malformed issue in page: {exc!r}"
                        ) from None
                    if (ticket.key, updated) in seen:
                        continue
                    seen.add((ticket.key, updated))
                    tickets.append(ticket)
                # Only a one-page listing is cached: a 304 on page 1 says nothing of page 2,
                # where what changed since lands (more issues than a page shared the overlap)
                cached = is_last and page_no == 1 and conditional and first_etag
                stored_etag = _encode_etag(since, first_etag[0]) if cached else None
                yield Page(stream, tickets, Cursor(newest, stored_etag))
            if moved is None:
                return
            start, conditional = moved, False
        raise SourceError(
            self.name, f"{what}: issues kept moving while paging; read again next run"
        )

    def fetch(self, key: str) -> Ticket | None:
        repo, number = split_key(key)
        answer = self._request(
            "GET", f"/repos/{repo}/issues/{number}", f"reading {key}", tolerate=(404, 410)
        )
        if answer is None or not isinstance(answer[1], dict):
            return None
        self.comment_hints.saw(key, answer[1].get("comments") == 0)
        return to_ticket(self.name, answer[1])

    # ------------------------------------------------------------------ writes

    def ensure_label(self, project: str, name: str, color: str, description: str) -> None:
        """Create the label with its colour and description; an existing one is left as is."""
        self._write(
            "POST",
            f"/repos/{project}/labels",
            f"creating label {name!r} in {project}",
            body={"name": name, "color": color.lstrip("#"), "description": description},
            tolerate=(422,),
        )

    def add_label(self, key: str, label: str) -> None:
        repo, number = split_key(key)
        self._write(
            "POST",
            f"/repos/{repo}/issues/{number}/labels",
            f"adding label {label!r} to {key}",
            body={"labels": [label]},
        )

    def remove_label(self, key: str, label: str) -> None:
        """Idempotent: a label that is not there (404) counts as removed."""
        repo, number = split_key(key)
        self._write(
            "DELETE",
            f"/repos/{repo}/issues/{number}/labels/{quote(label, safe='')}",
            f"removing label {label!r} from {key}",
            tolerate=(404,),
        )

    def _text(self, body: CommentBody, marker: str) -> str:
        if not isinstance(body, str):
            raise TypeError("GitHub comments take Markdown text")
        text = f"{body}\n\n{marker_tag(marker)}"
        if len(text) > COMMENT_LIMIT:
            raise CommentTooLong(self.name, len(text), COMMENT_LIMIT)
        return text

    def create_comment(self, key: str, body: CommentBody, marker: str) -> CommentRef:
        self.comment_hints.drop(key)
        repo, number = split_key(key)
        answer = self._write(
            "POST",
            f"/repos/{repo}/issues/{number}/comments",
            f"commenting on {key}",
            body={"body": self._text(body, marker)},
        )
        assert answer is not None
        return CommentRef(str(answer[1]["id"]))

    def find_comment(self, key: str, marker: str) -> CommentRef | None:
        """Our comment on `key` by its hidden marker (when the stored id is lost); no request
        when the issue's fresh read counted no comment at all."""
        if self.comment_hints.take(key):
            return None
        repo, number = split_key(key)
        tag = marker_tag(marker)
        what = f"listing comments of {key}"

        def fetch(page_url: str | None) -> tuple[Any, str | None]:
            if page_url is None:
                answer = self._request(
                    "GET",
                    f"/repos/{repo}/issues/{number}/comments",
                    what,
                    params={"per_page": 100},
                )
            else:
                answer = self._request("GET", page_url, what)
            assert answer is not None
            return answer[1], next_link(answer[0])

        for comments in follow_pages(fetch, source=self.name, what=what):
            for comment in comments or []:
                if tag in str(comment.get("body") or ""):
                    return CommentRef(str(comment["id"]))
        return None

    def update_comment(self, key: str, comment_id: str, body: CommentBody, marker: str) -> None:
        repo, _ = split_key(key)
        self._write(
            "PATCH",
            f"/repos/{repo}/issues/comments/{comment_id}",
            f"updating comment {comment_id} on {key}",
            body={"body": self._text(body, marker)},
        )

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Idempotent: a comment already gone (404) counts as deleted."""
        repo, _ = split_key(key)
        self._write(
            "DELETE",
            f"/repos/{repo}/issues/comments/{comment_id}",
            f"deleting comment {comment_id} on {key}",
            tolerate=(404,),
        )

    def close(self, key: str, reason: str) -> None:
        """Close as `reason` (GitHub's state_reason: completed or not_planned)."""
        repo, number = split_key(key)
        self._write(
            "PATCH",
            f"/repos/{repo}/issues/{number}",
            f"closing {key}",
            body={"state": "closed", "state_reason": reason or "not_planned"},
        )

    def transition(self, key: str, state_name: str) -> None:
        state = state_name.strip().lower()
        if state not in ("open", "closed"):
            raise SourceError(self.name, f"GitHub issues are open or closed, not {state_name!r}")
        repo, number = split_key(key)
        self._write(
            "PATCH",
            f"/repos/{repo}/issues/{number}",
            f"moving {key} to {state}",
            body={"state": state},
        )
