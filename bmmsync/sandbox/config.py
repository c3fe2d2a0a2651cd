"""Knobs tests and benchmarks turn through `POST /_sandbox/config`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(slots=True)
class SandboxConfig:
    """Limits and behaviours; defaults are those of the real services where they publish one."""

    github_rate_limit: int = 5000  # primary budget per token per hour
    github_rate_limit_status: int = 403  # GitHub answers 403 or 429 when it is exhausted
    github_secondary_limit: int | None = None  # content-creating requests per minute
    github_secondary_retry_after: int = 60
    jira_search_lag: float = 0.0  # seconds before a change shows in Cloud search/jql
    jira_time_zone: str = "UTC"  # the Jira user's zone: JQL dates and rendered timestamps
    jira_rate_limit: float | None = None  # requests per second per user, then 429
    jira_retry_after: int = 1
    timeout_seconds: float = 30.0  # how long a "timeout" fault holds the request
    # Repositories ("owner/name") the GitHub App installation may reach; None: all of them.
    github_app_repositories: list[str] | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes`; raise ValueError on an unknown key or a bad time zone."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "jira_time_zone" in changes:
            try:
                ZoneInfo(changes["jira_time_zone"])
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {changes['jira_time_zone']!r}") from exc
        repos = changes.get("github_app_repositories")
        if repos is not None and (
            not isinstance(repos, list) or not all(isinstance(r, str) for r in repos)
        ):
            raise ValueError("github_app_repositories must be a list of owner/name or null")
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
