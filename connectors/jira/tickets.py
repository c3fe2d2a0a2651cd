"""Jira issue JSON -> `Ticket`, the JQL for incremental polling, and plain text -> ADF."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bmmsync.domain import Ticket

_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)


def parse_time(value: str | None) -> datetime | None:
    """Jira's `2024-05-01T10:00:00.000+0000` (or ISO 8601) -> aware datetime."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))


def polling_jql(scope: str, since: datetime | None, time_zone: str) -> str:
    """`(<scope>) AND updated >= "yyyy-MM-dd HH:mm"` ordered oldest first.

    JQL dates have minute precision and are read in the *user's* time zone, so `since` is
    converted there and floored to the minute (never later than asked: `>=` re-reads the
    boundary, and de-duplication drops what was already seen).
    """
    scope = _ORDER_BY.sub("", scope.strip())
    order = " ORDER BY updated ASC, key ASC"
    if since is None:
        return f"({scope}){order}"
    local = since.astimezone(ZoneInfo(time_zone)).replace(second=0, microsecond=0)
    return f'({scope}) AND updated >= "{local:%Y-%m-%d %H:%M}"{order}'


def key_in_scope_jql(scope: str, key: str) -> str:
    """`(<scope>) AND key = "KEY"`: finds `key` only when the source's JQL covers it."""
    return f'({_ORDER_BY.sub("", scope.strip())}) AND key = "{key}"'


def since_for(cursor_value: str | None, overlap_seconds: float) -> datetime | None:
    last = parse_time(cursor_value)
    return None if last is None else last - timedelta(seconds=overlap_seconds)


@dataclass(frozen=True, slots=True)
class FieldIds:
    """Configured field names resolved to ids (None: the site has no such field)."""

    capability_name: str | None
    capability: str | None
    story_points: str | None
    epic_link: str | None

    def requested(self) -> list[str]:
        base = [
            "summary",
            "status",
            "issuetype",
            "labels",
            "parent",
            "project",
            "assignee",
            "created",
            "updated",
            "resolutiondate",
        ]
        extra = [f for f in (self.capability, self.story_points, self.epic_link) if f]
        return base + [f for f in extra if f not in base]


def _key_of(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value["key"]) if value.get("key") else None
    return str(value) if value else None


def _raw(value: Any) -> Any:
    """A field value as Jira gives it, minus `self` URLs (noise that changes with the host)."""
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items() if k != "self"}
    if isinstance(value, list):
        return [_raw(v) for v in value]
    return value


def _points(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def to_ticket(
    source: str, server_url: str, issue: dict[str, Any], ids: FieldIds, *, cloud: bool
) -> Ticket:
    """One searched issue. Cloud: parent from `parent`. Server/DC: Epic Link, else parent."""
    key = str(issue["key"])
    fields = issue.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    parent = _key_of(fields.get("parent"))
    if not cloud and ids.epic_link:
        parent = _key_of(fields.get(ids.epic_link)) or parent
    assignee = fields.get("assignee") or {}
    project = fields.get("project") or {}
    extra: dict[str, Any] = {}
    if ids.capability_name:
        extra[ids.capability_name] = _raw(fields.get(ids.capability)) if ids.capability else None
    return Ticket(
        source=source,
        key=key,
        title=str(fields.get("summary") or ""),
        url=f"{server_url}/browse/{key}",
        type=str((fields.get("issuetype") or {}).get("name") or ""),
        state=str(status.get("name") or ""),
        labels=tuple(str(label) for label in fields.get("labels") or ()),
        fields=extra,
        parent_key=parent,
        assignee=assignee.get("accountId") or assignee.get("name") or None,
        project=str(project.get("key") or key.rsplit("-", 1)[0]),
        story_points=_points(fields.get(ids.story_points)) if ids.story_points else None,
        created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")),
        closed=category == "done",
        closed_at=parse_time(fields.get("resolutiondate")) if category == "done" else None,
    )


def utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: blank-line-separated paragraphs, line breaks kept."""
    content = []
    for block in re.split(r"\n\s*\n", text.strip()):
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}
