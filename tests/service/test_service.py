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

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.models import FlagRow, RunRow
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config
from tests.patience import PATIENCE

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


def test_two_instances_overlap_one_writes_the_other_reports_skipped(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    sandbox_control.fault("", "hold")  # the first instance's first request waits
    first = _start(config, "run", "--once", "--format", "json")
    try:
        wait_for_hold(sandbox_control, first)
        second = run_cli("--config", str(config), "run", "--once", "--format", "json")
    finally:
        sandbox_control.release()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["result"] == "skipped", "the runs overlapped"
    assert json.loads(second.stdout)["skipped_reason"].endswith("holds the run lease")
    report = json.loads(out)
    assert report["result"] == "ok" and report["flagging"]["done"] > 0
    writes = Counter(tracker_writes(sandbox_control))
    assert writes and max(writes.values()) == 1, "each write exactly once"


def _start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BMMSYNC, "--config", str(config), *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_hold(control: SandboxControl, proc: subprocess.Popen[str]) -> None:
    """Until the sandbox holds one of `proc`'s requests (it must not have ended first)."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if control.holds():
            return
        assert proc.poll() is None, f"ended before its request was held: {proc.stderr}"
        time.sleep(0.01)
    raise AssertionError(f"no request was held within {PATIENCE:.0f} s")


def wait_released(control: SandboxControl) -> None:
    """Release held requests and wait until each got its answer (a killed client's request
    still lands, as on a real tracker)."""
    control.release()
    deadline = time.monotonic() + 30
    while control.holds() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not control.holds()


@pytest.fixture
def reference(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    db_url: str,
) -> tuple[dict[str, Any], dict[tuple[str, str], tuple[Any, ...]], int]:
    """The end state of an uninterrupted run, and how many requests that run made."""
    directory = tmp_path_factory.mktemp("reference")
    config = write_sandbox_config(directory, sandbox, db_url)
    result = run_cli("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    total = sandbox_control.requests(include_requests=False)["total"]
    state, flags = tracker_state(sandbox_control), store_flags(db_url)
    sandbox_control.seed("demo")
    return state, flags, total


KILL_SHARDS = 3  # the 21 kill points are split so xdist runs the shards side by side


@pytest.mark.parametrize("shard", range(KILL_SHARDS))
def test_kill_9_at_many_points_then_a_new_process_converges_at_once(
    shard: int,
    tmp_path: Path,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    reference: tuple[dict[str, Any], dict[tuple[str, str], tuple[Any, ...]], int],
    db_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """kill -9 while request N is in flight (held by the sandbox), then at once a new
    `bmmsync run --once` through the CLI: it must do the work (not skip for a stale lease),
    and end where an uninterrupted run ends, with no duplicate comment. Each shard takes
    every third of the 21 points, spread from the first request to the last."""
    expected_state, expected_flags, total = reference
    points = sorted({round((total - 1) * i / 20) for i in range(21)})
    assert len(points) >= 20, total
    for n, point in enumerate(points[shard::KILL_SHARDS]):
        sandbox_control.seed("demo")
        directory = tmp_path / f"kill{n}"
        directory.mkdir()
        url = _fresh_store(request, db_url, n)
        config = write_sandbox_config(directory, sandbox, url)
        sandbox_control.fault("", "hold", after=point)
        proc = _start(config, "run", "--once")
        wait_for_hold(sandbox_control, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -9, f"killed at request {point}"
        wait_released(sandbox_control)
        rerun = run_cli("--config", str(config), "run", "--once", "--format", "json")
        assert rerun.returncode == 0, (point, rerun.stderr)
        assert json.loads(rerun.stdout)["result"] == "ok", (point, rerun.stdout)
        assert tracker_state(sandbox_control) == expected_state, f"killed at request {point}"
        assert store_flags(url) == expected_flags, f"killed at request {point}"


def _fresh_store(request: pytest.FixtureRequest, db_url: str, n: int) -> str:
    if db_url.startswith("sqlite"):
        return db_url.replace("store.db", f"store{n}.db")
    from tests.conftest import _drop_pg, _fresh_pg_url

    name, url = _fresh_pg_url(request.getfixturevalue("pg_template"))
    request.addfinalizer(lambda: _drop_pg(name))
    return url
