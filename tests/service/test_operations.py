"""The service as an operator sees it: failed runs in `status` and its exit code, the back-off
(skipped runs, log lines, `status`), and a config edited into something invalid while `run`
runs. Real runs against the sandbox and a real store; the scheduler's clock is injected."""

from __future__ import annotations

import ctypes
import json
import logging
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bmmsync.config.settings import Config, load_config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import RunReport, run_once
from bmmsync.service.scheduler import Service
from bmmsync.store.database import Store
from bmmsync.store.models import RunRow
from tests.cli.helpers import run_cli, write_sandbox_config
from tests.patience import PATIENCE
from tests.service.test_service import _start


def test_status_exits_1_after_a_failed_run_and_0_after_a_good_one(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    sandbox_control.fault("/jira", 500, count=10_000)
    failed = run_cli("--config", str(config), "run", "--once")
    assert failed.returncode == 1, failed.stdout
    status = run_cli("--config", str(config), "status")
    assert status.returncode == 1, status.stdout
    assert "failed" in status.stdout and "error: source platform" in status.stdout
    sandbox_control.seed("demo")  # the tracker is back
    assert run_cli("--config", str(config), "run", "--once").returncode == 0
    status = run_cli("--config", str(config), "status", "--format", "json")
    assert status.returncode == 0, status.stdout
    assert json.loads(status.stdout)["last_run"]["result"] == "ok"


def test_back_off_doubles_up_to_an_hour_as_an_operator_sees_it(
    tmp_path: Path,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = write_sandbox_config(tmp_path, sandbox, db_url, poll="1m")
    sandbox_control.fault("/jira", 500, count=100_000)  # Jira is down for hours
    store = Store.open(db_url)
    clock = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]

    def run(config: Config, stop: threading.Event, notes: Sequence[str]) -> RunReport:
        return run_once(config, store, stop=stop, sleep=lambda _: None, notes=notes)

    service = Service(load_config(path), path, run, clock=lambda: clock[0])
    ran: list[int] = []  # minutes (from the start) at which a scheduled run really ran
    caplog.set_level(logging.INFO, logger="bmmsync.scheduler")
    try:
        for minute in range(190):  # one tick a minute for over three hours
            clock[0] = datetime(2026, 12, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=minute)
            if service.tick() is not None:
                ran.append(minute)
        with store.session() as s:
            results = list(s.scalars(select(RunRow.result).order_by(RunRow.started_at)))
    finally:
        store.close()
    assert ran == [0, 1, 3, 7, 15, 31, 63, 123, 183], "gaps 1, 2, 4 ... 32, then an hour"
    assert results == ["failed"] * len(ran), "skipped runs leave no run behind"
    skipped = [r.getMessage() for r in caplog.records if "backing off" in r.getMessage()]
    assert len(skipped) == 190 - len(ran)
    assert skipped[-1].startswith("backing off after 9 failed run(s) in a row: run skipped")
    assert skipped[-1].endswith("next run at 2026-12-01 12:03:00 UTC")
    status = run_cli("--config", str(path), "status")
    assert status.returncode == 1
    assert "backing off after 9 failed runs in a row" in status.stdout


def test_an_invalid_config_edit_while_run_runs_is_logged_and_shown_by_status(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    path = write_sandbox_config(tmp_path, sandbox, db_url, poll="2s")
    good = path.read_text()
    proc = _start(path, "run")
    store = Store.open(db_url)
    try:
        _wait_for_runs(store, 1)
        path.write_text(good.replace("max_writes_per_run: 200", "max_writes_per_run: lots"))
        noted = _wait_for_runs(store, 1, with_notes=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        store.close()
    assert proc.returncode == 0, err
    assert noted[0].result == "ok", "the running config kept working"
    assert "config change refused, keeping the running config" in err
    assert "bmmsync.yaml:" in err and "max_writes_per_run" in err
    broken = run_cli("--config", str(path), "status")
    assert broken.returncode == 2, "status itself names the broken file"
    assert "bmmsync.yaml:" in broken.stderr and "max_writes_per_run" in broken.stderr
    path.write_text(good)
    status = run_cli("--config", str(path), "status")
    assert status.returncode == 0, status.stdout
    assert "warning: config change refused, the running config kept" in status.stdout


def _wait_for_runs(store: Store, count: int, *, with_notes: bool = False) -> list[RunRow]:
    """Finished runs (with notes, if asked), waiting for `count` of them."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with store.session() as s:
            rows = [
                r
                for r in s.scalars(select(RunRow).where(RunRow.finished_at.is_not(None)))
                if not with_notes or r.summary.get("notes")
            ]
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} run(s) finished in 90 s")


def test_sigterm_taken_by_another_thread_still_stops_run_at_once(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    """The kernel may hand a process's SIGTERM to any of its threads (it did so for a
    `SIGCONT` + `SIGTERM` pair, in a test, and the service ran on for its whole poll
    interval). Python runs the handler only in the main thread: it must not sleep through it."""
    path = write_sandbox_config(tmp_path, sandbox, db_url, poll="1h")
    proc = _start(path, "run")
    store = Store.open(db_url)
    try:
        _wait_for_runs(store, 1)
        tasks = Path(f"/proc/{proc.pid}/task")
        other = next(int(t.name) for t in tasks.iterdir() if int(t.name) != proc.pid)
        assert ctypes.CDLL(None, use_errno=True).tgkill(proc.pid, other, signal.SIGTERM) == 0
        _out, err = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
        store.close()
    assert proc.returncode == 0, err
    assert "received SIGTERM: stopping after the current write" in err
