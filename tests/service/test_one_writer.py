"""One writer, for real: `bmmsync` processes against the sandbox, overlapped at known points
by the sandbox's `hold` fault. What the trackers, the store and `status` end up holding is the
assertion."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import config_digest
from bmmsync.store.database import Store
from bmmsync.store.lease import Claimant, Grant, db_now, try_acquire
from bmmsync.store.models import AuditRow, LeaseRow
from tests.cli.helpers import run_cli, write_sandbox_config
from tests.service.test_service import (
    _start,
    tracker_state,
    tracker_writes,
    wait_for_hold,
    wait_released,
)

COMMENT_POST = r"/github/repos/[^/]+/[^/]+/issues/\d+/comments$"


def test_a_run_taken_over_mid_run_makes_no_write_after_the_takeover(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    sandbox_control.fault(COMMENT_POST, "hold", method="POST", after=1)
    proc = _start(config, "run", "--once", "--format", "json")
    try:
        wait_for_hold(sandbox_control, proc)
        before = len(tracker_writes(sandbox_control))
        store = Store.open(db_url)
        with store.session() as s:  # its lease expires and another instance takes it
            s.execute(
                update(LeaseRow).values(
                    holder="intruder:1",
                    host="elsewhere",
                    token=LeaseRow.token + 1,
                    expires_at=db_now(s) + timedelta(seconds=60),
                )
            )
        store.close()
    finally:
        wait_released(sandbox_control)
    out, err = proc.communicate(timeout=120)
    report = json.loads(out)
    assert report["result"] == "lost-lease", err
    assert report["flagging"]["lost_lease"] is True
    assert report["flagging"]["deferred"] > 0
    assert len(tracker_writes(sandbox_control)) == before + 1, "only the write in flight"
    status = run_cli("--config", str(config), "status", "--format", "json")
    assert json.loads(status.stdout)["last_run"]["result"] == "lost-lease"
    assert json.loads(status.stdout)["lease"]["holder"] == "intruder:1"


def test_apply_and_run_once_together_write_each_change_once(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    synced = run_cli("--config", str(config), "sync")
    assert synced.returncode == 0, synced.stderr
    sandbox_control.clear_requests()
    sandbox_control.fault("", "hold")
    proc = _start(config, "run", "--once", "--format", "json")
    try:
        wait_for_hold(sandbox_control, proc)
        applied = run_cli("--config", str(config), "apply", "--format", "json")
    finally:
        wait_released(sandbox_control)
    out, err = proc.communicate(timeout=120)
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["result"] == "skipped"
    assert json.loads(out)["result"] == "ok", err
    again = run_cli("--config", str(config), "apply", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["done"] == 0, "the run made every change"
    writes = Counter(tracker_writes(sandbox_control))
    assert writes and max(writes.values()) == 1, "each write exactly once"


def test_a_lease_row_from_a_host_ten_minutes_ahead_does_not_block_a_run(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    store = Store.open(db_url)
    from bmmsync.config.settings import load_config

    fast = Claimant("fast-host:4242", config_digest(load_config(config)), "fast-host", 4242, "1")
    with store.session() as s:
        assert isinstance(try_acquire(s, fast, timedelta(seconds=60)), Grant)
        # What that host wrote with its own clock: its now (10 minutes ahead) + 60 s.
        s.execute(update(LeaseRow).values(expires_at=db_now(s) + timedelta(minutes=11)))
    result = run_cli("--config", str(config), "run", "--once", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"] == "ok"
    with store.session() as s:
        row = s.scalars(select(LeaseRow)).one()
        assert row.token == 2 and row.expires_at <= db_now(s), "taken, then released"
    store.close()


def test_sigterm_during_a_write_lets_it_finish_and_exits_0(
    tmp_path: Path, sandbox: SandboxServer, sandbox_control: SandboxControl, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    sandbox_control.fault(COMMENT_POST, "hold", method="POST")
    proc = _start(config, "run")
    try:
        wait_for_hold(sandbox_control, proc)
        held = sandbox_control.holds()[0]["path"]
        before = len(tracker_writes(sandbox_control))
        proc.send_signal(signal.SIGTERM)
    finally:
        wait_released(sandbox_control)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    writes = tracker_writes(sandbox_control)
    assert writes[before:] == [("POST", held)], "the write in flight finished, then no other"
    store = Store.open(db_url)
    with store.session() as s:
        statuses = Counter(s.scalars(select(AuditRow.status)))
    store.close()
    assert statuses["intent"] == 0, "nothing left half-recorded"
    rerun = run_cli("--config", str(config), "run", "--once", "--format", "json")
    assert json.loads(rerun.stdout)["result"] == "ok", rerun.stderr
    for key, (_labels, comments) in tracker_state(sandbox_control).items():
        assert len(comments) <= 1, key
