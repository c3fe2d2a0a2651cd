"""The service end to end: real `bmmsync run` processes against the sandbox and a real store.

What the trackers and the store hold at the end is the assertion: one writer across
instances, clean stops, and a kill -9 anywhere in a run that a restart repairs exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bmmsync.bot.flagging import apply_step
from bmmsync.config.settings import load_config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.store.models import FlagRow, RunRow
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config
from tests.conftest import PG_URL

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def tracker_writes(control: SandboxControl) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in control.requests()["requests"]
        if r["method"] in WRITE_METHODS and not r["path"].startswith("/_sandbox")
    ]


def tracker_state(control: SandboxControl) -> dict[str, Any]:
    """Labels and bmmsync comments per ticket, without ids or timestamps."""
    state = control.state()
    out: dict[str, Any] = {}
    for repo, data in state["github"].items():
        for issue in data["issues"]:
            comments = [c["body"] for c in issue["comment_list"] if "bmmsync:" in c["body"]]
            out[f"{repo}#{issue['number']}"] = (sorted(issue["labels"]), comments)
    for issue in state["jira"]["issues"]:
        comments = [c["body"] for c in issue["comments"] if c["properties"]]
        out[issue["key"]] = (sorted(issue["labels"]), comments)
    return out


def store_flags(db_url: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    store = Store.open(db_url)
    with store.session() as s:
        rows = {
            (f.source, f.key): (
                f.reason,
                f.label_added,
                f.comment_id is not None,
                f.cleared_at is None,
            )
            for f in s.scalars(select(FlagRow))
        }
    store.close()
    return rows


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def test_run_once_twice_second_is_a_no_op(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    first = run_cli("--config", str(config), "run", "--once", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["result"] == "ok" and report["flagging"]["done"] > 0
    sandbox_control.clear_requests()
    second = run_cli("--config", str(config), "run", "--once", "--format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["flagging"]["planned"] == 0
    assert tracker_writes(sandbox_control) == []
    status = run_cli("--config", str(config), "status", "--format", "json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["last_run"]["result"] == "ok"
    assert {s["name"] for s in data["sources"]} == {"web", "platform"}
    assert sum(s["flagged"] for s in data["sources"]) > 0


def test_scheduler_runs_twice_then_sigterm_exits_0(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    """Counts runs in the store, not seconds: a slow machine only makes the test wait longer
    (the long timeouts are there to end a hung test, never to judge speed)."""
    config = write_sandbox_config(tmp_path, sandbox, db_url, poll="2s")
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(config), "run"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store.open(db_url)
    try:
        finished = _wait_for_finished_runs(store, 2, proc)
        assert len(finished) >= 2, "two scheduled runs"
        assert finished[0].summary["flagging"]["done"] > 0
        assert finished[1].summary["flagging"]["planned"] == 0, "the second run is a no-op"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=300)
        store.close()
    assert proc.returncode == 0, err
    assert "received SIGTERM: stopping after the current write" in err


def _wait_for_finished_runs(store: Store, count: int, proc: subprocess.Popen[str]) -> list[RunRow]:
    deadline = time.monotonic() + 600  # a hung service, not a slow one
    finished: list[RunRow] = []
    while len(finished) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.3)
        with store.session() as s:
            query = select(RunRow).where(RunRow.finished_at.is_not(None))
            finished = list(s.scalars(query.order_by(RunRow.started_at)))
    return finished


def test_two_instances_at_once_write_each_change_once(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url, write_interval=0.02)
    procs = [
        subprocess.Popen(
            [BMMSYNC, "--config", str(config), "run", "--once", "--format", "json"],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    writers = [r for r in reports if r["result"] == "ok" and r["flagging"].get("done")]
    assert len(writers) == 1, [r["result"] for r in reports]
    writes = Counter(tracker_writes(sandbox_control))
    assert writes and max(writes.values()) == 1, "each write exactly once"


def _wait_for_requests(control: SandboxControl, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if control.requests(include_requests=False)["total"] >= count:
            return
        time.sleep(0.005)


@pytest.fixture
def reference(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    db_url: str,
) -> tuple[dict[str, Any], dict[tuple[str, str], tuple[Any, ...]], int]:
    """The end state of an uninterrupted run, and how many requests that run made."""
    if PG_URL and db_url.startswith("sqlite"):
        pytest.skip("20 kills take a while: on PostgreSQL when it is configured, else SQLite")
    directory = tmp_path_factory.mktemp("reference")
    config = write_sandbox_config(directory, sandbox, db_url)
    result = run_cli("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    total = sandbox_control.requests(include_requests=False)["total"]
    state, flags = tracker_state(sandbox_control), store_flags(db_url)
    sandbox_control.seed("demo")
    return state, flags, total


def test_kill_9_at_many_points_then_restart_converges(
    tmp_path: Path,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    reference: tuple[dict[str, Any], dict[tuple[str, str], tuple[Any, ...]], int],
    db_url: str,
    request: pytest.FixtureRequest,
) -> None:
    expected_state, expected_flags, total = reference
    points = sorted({max(1, round(total * i / 21)) for i in range(1, 21)} | {total - 1})
    assert len(points) >= 20
    for n, point in enumerate(points):
        sandbox_control.seed("demo")
        directory = tmp_path / f"kill{n}"
        directory.mkdir()
        url = _fresh_store(request, db_url, n)
        config = write_sandbox_config(directory, sandbox, url)
        proc = subprocess.Popen(
            [BMMSYNC, "--config", str(config), "run", "--once"],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        _wait_for_requests(sandbox_control, point, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # The killed run's lease would block a restart until it expires: a restarted
        # service waits it out; here the test lets it lapse at once.
        _expire_leases(url)
        store = Store.open(url)  # the restart, in this process: the same run_once
        try:
            rerun = run_once(load_config(config), store, apply_writes=apply_step(None))
        finally:
            store.close()
        assert rerun.result == "ok", (point, rerun.errors)
        assert tracker_state(sandbox_control) == expected_state, f"killed at request {point}"
        assert store_flags(url) == expected_flags, f"killed at request {point}"


def _fresh_store(request: pytest.FixtureRequest, db_url: str, n: int) -> str:
    if db_url.startswith("sqlite"):
        return db_url.replace("store.db", f"store{n}.db")
    from tests.conftest import _drop_pg, _fresh_pg_url

    name, url = _fresh_pg_url(request.getfixturevalue("pg_template"))
    request.addfinalizer(lambda: _drop_pg(name))
    return url


def _expire_leases(db_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from bmmsync.store.models import LeaseRow

    store = Store.open(db_url)
    with store.session() as s:
        s.execute(update(LeaseRow).values(expires_at=datetime.now(UTC)))
    store.close()
