"""The service under bad conditions: a database that is down, a config edited while it runs,
a second instance with another configuration."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bmmsync.bot.flagging import apply_step
from bmmsync.config.settings import Config, load_config
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.lease import RunLease
from bmmsync.service.runner import RunReport, run_once, take_snapshot
from bmmsync.service.scheduler import Service
from bmmsync.store.database import Store, create_store_engine
from bmmsync.store.snapshot_repo import snapshots_since
from tests.cli.helpers import run_cli
from tests.cli.helpers import write_sandbox_config as write_config


def test_database_down_fails_the_run_then_the_next_succeeds(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    config = load_config(write_config(tmp_path, sandbox, db_url))
    down = Store(create_store_engine("postgresql+psycopg://bmmsync:pw@127.0.0.1:1/none"))
    report = run_once(config, down)
    assert report.result == "failed"
    assert report.errors and report.errors[0].startswith("store unavailable:")
    assert "pw" not in report.errors[0].split("@")[0]
    store = Store.open(db_url)
    try:
        assert run_once(config, store).result == "ok"
    finally:
        store.close()


def test_config_edited_while_running(tmp_path: Path, sandbox: SandboxServer, db_url: str) -> None:
    path = write_config(tmp_path, sandbox, db_url)
    seen: list[Config] = []

    def fake_run(config: Config, stop: threading.Event, notes: Sequence[str]) -> RunReport:
        seen.append(config)
        return RunReport(run_id="x", started_at=datetime.now(UTC), result="ok")

    service = Service(load_config(path), path, fake_run)
    good = path.read_text()
    path.write_text(good.replace("max_writes_per_run: 200", "max_writes_per_run: lots"))
    service.tick()
    assert seen[-1].flagging.max_writes_per_run == 200, "an invalid edit keeps the old config"
    path.write_text(good.replace("max_writes_per_run: 200", "max_writes_per_run: 7"))
    service.tick()
    assert seen[-1].flagging.max_writes_per_run == 7, "a valid edit applies at the next run"


def test_second_instance_with_another_config_is_refused(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    path = write_config(tmp_path, sandbox, db_url)
    store = Store.open(db_url)
    other = RunLease(store, "another-config")  # a live instance: this test process
    assert other.acquire() is None
    with other:
        result = run_cli("--config", str(path), "run", "--once")
    store.close()
    assert result.returncode == 2
    assert f"another bmmsync instance ({other.holder}) with a different configuration" in (
        result.stderr
    )


def test_an_unreachable_source_leaves_the_others_to_sync_and_flag(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    path = write_config(tmp_path, sandbox, db_url)
    text = path.read_text().replace(
        "flagging:",
        "  - {name: down, kind: jira, url: 'http://127.0.0.1:1/jira', email: a@b.c,"
        " token: t, jql: project = X}\nflagging:",
    )
    path.write_text(text)
    store = Store.open(db_url)
    try:
        report = run_once(
            load_config(path), store, apply_writes=apply_step(None), sleep=lambda _: None
        )
    finally:
        store.close()
    assert report.result == "failed"
    assert report.flagging["done"] > 0
    assert any(e.startswith("source down:") for e in report.flagging["errors"])
    assert any(e.startswith("source down:") for e in report.errors)
    assert [s["name"] for s in report.sync["sources"] if s["ok"]] == ["web", "platform"]
    assert report.check["in_scope"] > 0


def test_daily_snapshot_job_stores_the_figures(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    path = write_config(tmp_path, sandbox, db_url)
    config = load_config(path)
    store = Store.open(db_url)
    try:
        assert run_once(config, store).result == "ok"
        service = Service(
            config, path, lambda c, s, n: run_once(c, store), lambda c: take_snapshot(c, store)
        )
        service.daily_snapshot()
        with store.session() as s:
            snapshots = snapshots_since(s, datetime.now(UTC) - timedelta(hours=1))
    finally:
        store.close()
    assert len(snapshots) == 1
    assert snapshots[0].figures["overall"]["in_scope"] > 0
