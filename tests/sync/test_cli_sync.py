"""`bmmsync sync` end to end: config/demo.yaml against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bmmsync.cli.main import main
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from tests.sync.helpers import clear_log, requests_log, sandbox_github_keys, sandbox_jira_keys

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"


def bmmsync(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(DEMO), *args])
    return int(exit_info.value.code or 0)


def test_demo_sync_fills_the_store_then_polls_cheaply(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("BMMSYNC_SANDBOX_URL", sandbox.url)
    monkeypatch.chdir(tmp_path)

    assert bmmsync("sync", "--format", "json") == 0
    first = json.loads(capsys.readouterr().out)
    assert first["ok"] and {s["name"] for s in first["sources"]} == {"web", "platform"}
    assert "self-service-portal" in first["model"]["added"]["capabilities"]  # the map too

    store = Store.open(f"sqlite:///{tmp_path / 'bmmsync-demo.db'}")
    with store.session() as session:
        from bmmsync.store.ticket_repo import stored_keys

        assert stored_keys(session, "web") == sandbox_github_keys(sandbox)
        assert stored_keys(session, "platform") == sandbox_jira_keys(sandbox)
    store.close()

    assert bmmsync("sync", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["model"] == {
        "added": {},
        "changed": {},
        "retired": {},
    }
    clear_log(sandbox)
    assert bmmsync("sync") == 0
    table = capsys.readouterr().out
    assert "web" in table and "platform" in table and "limit" in table
    listings = [
        r
        for r in requests_log(sandbox)
        if (r["route"] or "").endswith(("/issues", "/repos", "/search/jql"))
    ]
    # the org's repository listing and each of its two repositories answer 304;
    # Jira search has no ETag
    assert sorted(r["status"] for r in listings) == [200, 304, 304, 304]


def test_failing_source_exits_1_and_names_it(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("BMMSYNC_SANDBOX_URL", sandbox.url)
    monkeypatch.chdir(tmp_path)
    # A malformed answer is not retried (a 5xx would be, with real back-off waits).
    sandbox.sandbox.faults.add("/jira/", "malformed", count=100)

    assert bmmsync("sync", "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    failed = {s["name"]: s for s in report["sources"]}
    assert failed["web"]["ok"] and not failed["platform"]["ok"]
    assert "source 'platform'" in failed["platform"]["error"]


def test_unknown_source_is_a_usage_error(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("BMMSYNC_SANDBOX_URL", sandbox.url)
    monkeypatch.chdir(tmp_path)
    assert bmmsync("sync", "--source", "nope") == 2
    assert "no source named 'nope'" in capsys.readouterr().err


def test_a_lost_repository_is_a_warning_and_the_sync_still_succeeds(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("BMMSYNC_SANDBOX_URL", sandbox.url)
    monkeypatch.chdir(tmp_path)
    sandbox.sandbox.faults.add("/github/repos/acme/mobile/issues", "404", count=100)

    assert bmmsync("sync") == 0
    out = capsys.readouterr().out
    assert "warning: source 'web': acme/mobile is no longer reachable" in out
    assert bmmsync("sync", "--format", "json") == 0
    web = next(s for s in json.loads(capsys.readouterr().out)["sources"] if s["name"] == "web")
    assert web["ok"] and web["lost"] == ["acme/mobile"]
