"""The demo against the sandbox, for the bot's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bmmsync.bot.flagging import ApplyStats, prepare, run_flagging
from bmmsync.bot.planner import FlagPlan
from bmmsync.config.settings import Config
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.lease import RunLease
from bmmsync.store.database import Store
from bmmsync.store.map_repo import sync_model
from bmmsync.sync import sync_sources
from tests.cli.helpers import REPO


def bot_config(server: SandboxServer, **flagging: Any) -> Config:
    """The demo config (org acme, Jira PLAT, the demo map) pointed at `server`."""
    config = Config.model_validate(
        {
            "model_file": str(REPO / "config" / "demo-model.yaml"),
            "sources": [
                {
                    "name": "web",
                    "kind": "github",
                    "base_url": server.github_url,
                    "token": "bot-token",
                    "orgs": ["acme"],
                },
                {
                    "name": "platform",
                    "kind": "jira",
                    "url": server.jira_url,
                    "deployment": "cloud",
                    "email": "bot@example.com",
                    "token": "jira-bot-token",
                    "jql": "project = PLAT",
                    "capability_field": "Capability",
                },
            ],
            "flagging": {"write_interval": 0} | flagging,
        }
    )
    return config


def sync(config: Config, store: Store, *, full: bool = False) -> None:
    with store.session() as session:
        sync_model(session, config.load_model(), datetime.now(UTC))
    report = sync_sources(config, store, full=full, sleep=lambda _: None)
    assert report.ok, report.as_dict()


def plan(config: Config, store: Store) -> FlagPlan:
    return prepare(config, store).plan


@contextmanager
def run_lease(store: Store) -> Iterator[RunLease]:
    """The run lease, as `bmmsync apply` takes it: every tracker write is fenced by it."""
    lease = RunLease(store, "tests")
    assert lease.acquire() is None
    with lease:
        yield lease


def apply(config: Config, store: Store, **kwargs: Any) -> ApplyStats:
    with run_lease(store) as lease:
        return run_flagging(config, store, fence=lease, **kwargs)
