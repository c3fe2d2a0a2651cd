"""GitHub App auth end to end: PyGithub signs a JWT with the App's key, trades it for an
installation token at the sandbox, and the sync and the bot's writes run as the App."""

from __future__ import annotations

from pathlib import Path

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.sandbox.state import GITHUB_APP_BOT
from bmmsync.store.database import Store
from bmmsync.store.ticket_repo import iter_tickets
from bmmsync.sync import connector_options, sync_sources
from connectors.registry import connector_for
from tests.connectors.helpers import app_config


def test_sync_and_write_as_a_github_app(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store, tmp_path: Path
) -> None:
    config = app_config(sandbox, tmp_path)
    report = sync_sources(config, store, sleep=lambda _: None)
    assert report.ok, report.as_dict()
    with store.session() as s:
        keys = {t.key for t in iter_tickets(s)}
    assert "acme/web#9" in keys and "acme/mobile#7" in keys

    log = sandbox_control.requests()["requests"]
    token_calls = [r for r in log if r["path"].endswith("/access_tokens")]
    assert [(r["method"], r["status"]) for r in token_calls] == [("POST", 201)]
    listings = [r for r in log if r["path"] == "/github/installation/repositories"]
    polls = [r for r in log if r["route"] == "/github/repos/{owner}/{repo}/issues"]
    assert [r["status"] for r in listings] == [200]
    assert sorted(r["path"] for r in polls) == [
        "/github/repos/acme/mobile/issues",
        "/github/repos/acme/web/issues",
    ]
    assert {r["user"] for r in listings + polls} == {GITHUB_APP_BOT}
    assert not [r for r in log if r["path"] == "/github/orgs/acme/issues"]

    conn = connector_for(config.sources[0], connector_options(config))
    ref = conn.create_comment("acme/web#9", "hello from the app", "app-test")
    issue = sandbox_control.github_issue("acme/web", 9)
    mine = [c for c in issue["comment_list"] if str(c["id"]) == ref.id]
    assert mine and mine[0]["user"] == GITHUB_APP_BOT


def test_an_unknown_app_is_refused_and_named(
    sandbox: SandboxServer, store: Store, tmp_path: Path
) -> None:
    config = app_config(sandbox, tmp_path, app_id=999)
    report = sync_sources(config, store, sleep=lambda _: None)
    [summary] = report.sources
    assert not summary.ok
    assert summary.error is not None
    assert "source 'web'" in summary.error and "app_id, private_key_file" in summary.error
