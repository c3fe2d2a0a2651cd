"""Building configs for the sandbox, and reading what the store and the sandbox hold."""

from __future__ import annotations

from typing import Any

from bmmsync.config.settings import Config
from bmmsync.domain import Ticket
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.ticket_repo import get_cursor, iter_tickets
from bmmsync.sync import SyncReport, sync_sources


def make_config(
    server: SandboxServer,
    *,
    github: dict[str, Any] | None = None,
    jira: dict[str, Any] | None = None,
    only: str | None = None,
    **sync: Any,
) -> Config:
    """The demo sources (org acme; Jira PLAT) against `server`, with overrides."""
    sources = []
    if only in (None, "github"):
        sources.append(
            {
                "name": "web",
                "kind": "github",
                "base_url": server.github_url,
                "token": "bot-token",
                "orgs": ["acme"],
            }
            | (github or {})
        )
    if only in (None, "jira"):
        sources.append(
            {
                "name": "platform",
                "kind": "jira",
                "url": server.jira_url,
                "deployment": "cloud",
                "email": "bot@example.com",
                "token": "jira-bot-token",
                "jql": "project = PLAT",
                "capability_field": "Capability",
            }
            | (jira or {})
        )
    return Config.model_validate(
        {
            "sources": sources,
            "sync": {"overlap": "5m", "page_size": 100} | sync,
            "flagging": {"write_interval": 0},
        }
    )


class Recorder:
    """A `sleep` that records the waits instead of waiting (optionally acting on them)."""

    def __init__(self, action: Any = None) -> None:
        self.waits: list[float] = []
        self.action = action

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.action is not None:
            self.action(seconds)


def run(config: Config, store: Store, **kwargs: Any) -> SyncReport:
    kwargs.setdefault("sleep", Recorder())
    return sync_sources(config, store, **kwargs)


def stored(
    store: Store, source: str | None = None, include_gone: bool = False
) -> dict[str, Ticket]:
    with store.session() as session:
        return {t.key: t for t in iter_tickets(session, source=source, include_gone=include_gone)}


def cursor(store: Store, source: str, stream: str) -> Any:
    with store.session() as session:
        return get_cursor(session, source, stream)


def sandbox_github_keys(server: SandboxServer) -> set[str]:
    """Every issue (not PR) in the org's repos, as the sandbox holds them."""
    data = server.state.data
    keys = set()
    for repo in data.repos.values():
        for issue in repo.issues.values():
            if not issue.is_pr:
                keys.add(issue.key)
    return keys


def sandbox_jira_keys(server: SandboxServer, project: str = "PLAT") -> set[str]:
    return {i.key for i in server.state.data.jira_issues.values() if i.project == project}


def requests_log(server: SandboxServer) -> list[dict[str, Any]]:
    import httpx

    return httpx.get(server.url + "/_sandbox/requests").json()["requests"]  # type: ignore[no-any-return]


def clear_log(server: SandboxServer) -> None:
    server.sandbox.log.clear()
