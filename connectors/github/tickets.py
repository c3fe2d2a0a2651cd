"""GitHub issue JSON (as listed) -> `Ticket`. Reads only what a list page carries, so no
attribute access ever triggers PyGithub's one-GET-per-issue completion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bmmsync.domain import Ticket


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def repo_of(issue: dict[str, Any]) -> str:
    """`owner/repo` from `repository_url` (present on repo and org listings alike)."""
    url = str(issue.get("repository_url") or "")
    parts = url.rstrip("/").split("/")
    if len(parts) < 2 or not url:
        raise ValueError(f"issue {issue.get('number')!r} has no repository_url")
    return f"{parts[-2]}/{parts[-1]}"


def key_from_api_url(url: str | None) -> str | None:
    """`.../repos/o/r/issues/7` -> `o/r#7`."""
    if not url:
        return None
    parts = url.rstrip("/").split("/")
    if len(parts) < 4 or parts[-2] != "issues":
        return None
    return f"{parts[-4]}/{parts[-3]}#{parts[-1]}"


def _name(value: Any) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else str(value or "")


def to_ticket(source: str, issue: dict[str, Any]) -> Ticket:
    """One listed issue. Null body, labels, type or assignees are normal, not errors."""
    repo = repo_of(issue)
    itype = _name(issue.get("type"))
    assignees = issue.get("assignees") or []
    first = assignees[0] if assignees else issue.get("assignee")
    state = str(issue.get("state") or "open")
    return Ticket(
        source=source,
        key=f"{repo}#{issue['number']}",
        title=str(issue.get("title") or ""),
        url=str(issue.get("html_url") or ""),
        type=itype,
        state=state,
        labels=tuple(_name(label) for label in issue.get("labels") or ()),
        fields={"type": itype or None},
        parent_key=key_from_api_url(issue.get("parent_issue_url")),
        assignee=str(first["login"]) if isinstance(first, dict) and first.get("login") else None,
        project=repo,
        created=parse_time(issue.get("created_at")),
        updated=parse_time(issue.get("updated_at")),
        closed=state == "closed",
        is_pull_request="pull_request" in issue,
        closed_at=parse_time(issue.get("closed_at")) if state == "closed" else None,
    )
