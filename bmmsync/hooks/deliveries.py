"""From a verified delivery to what the queue holds: which source, which tickets, which id.

Only keys and ids are taken from a payload: payloads may be stale or out of order, so the
worker reads each ticket fresh from the tracker. Every field is untrusted and checked for
shape; anything that does not fit is refused with a cause, never raised.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bmmsync.config.settings import Config, GitHubSource, JiraSource
from bmmsync.store.event_queue import Delivery

GITHUB_ISSUE_ACTIONS = frozenset(
    {
        "opened",
        "edited",
        "labeled",
        "unlabeled",
        "closed",
        "reopened",
        "deleted",
        "transferred",
        "typed",
        "untyped",
    }
)
GITHUB_SUB_ISSUE_ACTIONS = frozenset(
    {"sub_issue_added", "sub_issue_removed", "parent_issue_added", "parent_issue_removed"}
)
JIRA_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
JIRA_COMMENT_EVENTS = frozenset(
    {"issue_commented", "issue_comment_edited", "issue_comment_deleted"}
)

_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
_JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


class Refused(Exception):
    """The delivery is not queued; `cause` is counted (`bmmsync webhooks check`, /metrics)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class Ping(Exception):
    """GitHub's `ping` on webhook creation: answered, nothing queued."""


def _dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Refused("malformed")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 300:
        raise Refused("malformed")
    return value


def _github_source(config: Config, repo: str) -> GitHubSource:
    owner = repo.split("/", 1)[0].casefold()
    for src in config.sources:
        if isinstance(src, GitHubSource) and (
            repo.casefold() in {r.casefold() for r in src.repos}
            or owner in {o.casefold() for o in src.orgs}
        ):
            return src
    raise Refused("unwatched")


def _issue_key(repo: str, issue: Any) -> str:
    number = _dict(issue).get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise Refused("malformed")
    return f"{repo}#{number}"


def github_delivery(
    config: Config, event: str | None, delivery_id: str | None, body: bytes, payload: Any
) -> Delivery:
    """A GitHub delivery (`X-GitHub-Event`, `X-GitHub-Delivery`) to queue.

    Raises `Ping` for a ping and `Refused` for anything not queued."""
    if event == "ping":
        raise Ping()
    payload = _dict(payload)
    action = payload.get("action")
    repo = _text(_dict(payload.get("repository")).get("full_name"))
    if not _REPO.match(repo):
        raise Refused("malformed")
    detail: dict[str, Any] = {}
    if event == "issues" and action in GITHUB_ISSUE_ACTIONS:
        keys: tuple[str, ...] = (_issue_key(repo, payload.get("issue")),)
        if action in ("labeled", "unlabeled") and isinstance(payload.get("label"), Mapping):
            detail = {"label": _text(payload["label"].get("name")), "added": action == "labeled"}
    elif event == "sub_issues" and action in GITHUB_SUB_ISSUE_ACTIONS:
        child_repo = repo
        if isinstance(payload.get("sub_issue_repo"), Mapping):
            child_repo = _text(payload["sub_issue_repo"].get("full_name"))
        keys = (_issue_key(child_repo, payload.get("sub_issue")),)
    elif event == "label" and action in ("edited", "deleted"):
        name = _text(_dict(payload.get("label")).get("name"))
        changes = payload.get("changes")
        old = changes.get("name", {}).get("from") if isinstance(changes, Mapping) else None
        if action == "edited" and not isinstance(old, str):
            raise Refused("ignored-event")  # a colour or description change: no trace effect
        keys, detail = (), {"project": repo, "label": old if action == "edited" else name}
    else:
        raise Refused("ignored-event")
    source = _github_source(config, repo)
    ident = delivery_id or hashlib.sha256(body).hexdigest()
    return Delivery("github", _text(ident), f"{event}.{action}", source.name, keys, detail)


def _jira_source(config: Config, issue_url: str) -> JiraSource:
    for src in config.sources:
        if isinstance(src, JiraSource) and issue_url.startswith(str(src.url).rstrip("/") + "/"):
            return src
    raise Refused("unwatched")


def _labels(text: Any) -> list[str]:
    return text.split() if isinstance(text, str) else []


def jira_delivery(config: Config, identifier: str | None, payload: Any) -> Delivery:
    """A Jira Cloud or Data Center delivery to queue (`X-Atlassian-Webhook-Identifier` when
    sent; else the payload's timestamp, issue and event name make the dedupe id)."""
    payload = _dict(payload)
    event = payload.get("webhookEvent")
    if event not in JIRA_EVENTS:
        raise Refused("ignored-event")
    issue = _dict(payload.get("issue"))
    key = _text(issue.get("key"))
    if not _JIRA_KEY.match(key):
        raise Refused("malformed")
    source = _jira_source(config, _text(issue.get("self")))
    changelog = payload.get("changelog")
    raw = changelog.get("items") if isinstance(changelog, Mapping) else None
    items = [i for i in raw if isinstance(i, Mapping)] if isinstance(raw, list) else []
    detail: dict[str, Any] = {}
    if not items and payload.get("issue_event_type_name") in JIRA_COMMENT_EVENTS:
        detail = {"comment_only": True}
    elif items and all(i.get("field") == "labels" for i in items):
        detail = {
            "labels_from": _labels(items[-1].get("fromString")),
            "labels_to": _labels(items[-1].get("toString")),
        }
    ident = identifier
    if not ident:
        stamp = payload.get("timestamp")
        if not isinstance(stamp, int | str):
            raise Refused("malformed")
        ident = f"{stamp}:{issue.get('id') or key}:{event}"
    return Delivery("jira", _text(ident), str(event), source.name, (key,), detail)
