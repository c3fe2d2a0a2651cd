"""`bmmsync run` as a user starts it: the hooks on its web server, the worker in its process.
A label fix on the tracker lifts the flag from one delivery, with no poll in between."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth
from bmmsync.store.lease import current_holder
from bmmsync.store.models import RunRow, WebhookEventRow
from tests.cli.helpers import BMMSYNC, write_sandbox_config
from tests.hooks.helpers import GITHUB_SECRET, JIRA_SECRET, register
from tests.patience import PATIENCE

FLAG = "trace-broken"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check: object, seconds: float = PATIENCE) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _lists(sandbox: SandboxServer) -> int:
    """Listing requests (what a poll makes), as opposed to single-ticket reads."""
    return sum(
        1
        for r in sandbox.sandbox.log.snapshot(True)["requests"]
        if r["path"].endswith(("/orgs/acme/issues", "/search/jql"))
    )


def test_run_lifts_a_flag_from_one_delivery_without_a_poll(
    tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    port = _free_port()
    path = write_sandbox_config(tmp_path, sandbox, db_url, poll="1h")
    path.write_text(
        path.read_text()
        + f'web: {{listen: "127.0.0.1:{port}"}}\n'
        + 'webhooks: {github_secret: "${GH_HOOK}", jira_secret: "${JIRA_HOOK}"}\n'
    )
    env = {"GH_HOOK": GITHUB_SECRET, "JIRA_HOOK": JIRA_SECRET, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(path), "run"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait("the first run", lambda: FLAG in _issue_labels(sandbox) or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()[1]
        _wait("the dashboard", lambda: _up(port))
        register(sandbox, f"http://127.0.0.1:{port}")
        polls = _lists(sandbox)
        sandbox.state.gh_add_labels(sandbox.state.gh_issue("acme/web", 9), ["cap:portal"], "alice")
        _wait("the flag to go", lambda: FLAG not in _issue_labels(sandbox))
        assert _lists(sandbox) == polls  # no poll: the delivery did it
        _wait("the queue to drain", lambda: _depth(store) == 0)
        status = subprocess.run(
            [BMMSYNC, "--config", str(path), "status"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "webhook queue: 0 event(s) waiting" in status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert GITHUB_SECRET not in err and JIRA_SECRET not in err


def _issue_labels(sandbox: SandboxServer) -> list[str]:
    return list(sandbox.state.gh_issue("acme/web", 9).labels)


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _depth(store: Store) -> int:
    with store.session() as s:
        return depth(s)


def _start(path: Path, port: int) -> subprocess.Popen[str]:
    env = {"GH_HOOK": GITHUB_SECRET, "JIRA_HOOK": JIRA_SECRET, "HOOK_PORT": str(port)}
    return subprocess.Popen(
        [BMMSYNC, "--config", str(path), "run"],
        env={**os.environ, **env, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _quiet(sandbox: SandboxServer, store: Store) -> bool:
    """Every delivery sent, every queued event done, and the run lease let go: an instance
    frozen while it holds the lease would keep the other from writing (by design)."""
    if sandbox.sandbox.webhooks.snapshot()["pending"] or _depth(store):
        return False
    with store.session() as s:
        return current_holder(s) is None


def _deliver_to(sandbox: SandboxServer, port: int) -> None:
    """From now on the sandbox sends both trackers' deliveries to the instance on `port`."""
    sandbox.sandbox.webhooks.clear()
    register(sandbox, f"http://127.0.0.1:{port}")


def _workers(store: Store) -> set[int]:
    """The pids of the `run` processes whose workers completed queued events (a claim is
    `host:pid/random`)."""
    with store.session() as s:
        tokens = s.scalars(
            select(WebhookEventRow.claimed_by).where(WebhookEventRow.done_at.is_not(None))
        )
        return {int(str(t).split("/", 1)[0].rsplit(":", 1)[1]) for t in tokens}


def _writes(sandbox: SandboxServer) -> Counter[tuple[str, str]]:
    """Tracker writes carried out (2xx), by method and path."""
    return Counter(
        (r["method"], r["path"])
        for r in sandbox.sandbox.log.snapshot(True)["requests"]
        if r["method"] != "GET" and r["status"] < 300
    )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_run_processes_share_the_queue_and_write_each_change_once(
    tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    """Two `bmmsync run` processes, one config, one PostgreSQL store, each with its own web
    server. Each is frozen (SIGSTOP) in turn while the other takes the deliveries, so both
    workers provably drain the shared queue; then both run together. Every fix reaches the
    tracker, and no write is made twice."""
    path = write_sandbox_config(tmp_path, sandbox, db_url, poll="1h")
    path.write_text(
        path.read_text()
        + 'web: {listen: "127.0.0.1:${HOOK_PORT}"}\n'
        + 'webhooks: {github_secret: "${GH_HOOK}", jira_secret: "${JIRA_HOOK}"}\n'
    )
    ports = [_free_port(), _free_port()]
    procs = [_start(path, port) for port in ports]
    state = sandbox.state
    try:
        _wait("the first run", lambda: FLAG in _issue_labels(sandbox))
        for port in ports:
            _wait("both web servers", lambda port=port: _up(port))
        assert all(p.poll() is None for p in procs)
        _wait("the first run to end", lambda: _runs_done(store) >= 1)
        sandbox.sandbox.log.clear()

        # A alone (B frozen): a GitHub fix
        procs[1].send_signal(signal.SIGSTOP)
        _deliver_to(sandbox, ports[0])
        state.gh_add_labels(state.gh_issue("acme/web", 9), ["cap:portal"], "alice")
        _wait("A to lift the flag", lambda: FLAG not in _issue_labels(sandbox))
        _wait("A to finish", lambda: _quiet(sandbox, store))
        procs[1].send_signal(signal.SIGCONT)

        # B alone (A frozen): a Jira fix
        procs[0].send_signal(signal.SIGSTOP)
        _deliver_to(sandbox, ports[1])
        plat = state.jira_issue("PLAT-10")
        state.jira_update(plat, "557058:alice", labels=[*plat.labels, "cap:portal"])
        _wait("B to lift the flag", lambda: FLAG not in state.jira_issue("PLAT-10").labels)
        _wait("B to finish", lambda: _quiet(sandbox, store))
        procs[0].send_signal(signal.SIGCONT)

        # both at once, each receiving one tracker's deliveries
        sandbox.sandbox.webhooks.clear()
        for tracker, port, secret in (
            ("github", ports[0], GITHUB_SECRET),
            ("jira", ports[1], JIRA_SECRET),
        ):
            sandbox.sandbox.webhooks.register(
                f"http://127.0.0.1:{port}/hooks/{tracker}", tracker, secret, sandbox.url
            )
        both = (("acme/mobile", 7), ("acme/web", 10))
        for repo, number in both:
            issue = state.gh_issue(repo, number)
            kept = [x for x in issue.labels if not x.lower().startswith("cap:")]
            state.gh_set_labels(issue, [*kept, "cap:portal"], "alice")
        _wait(
            "both flags to go",
            lambda: not any(FLAG in state.gh_issue(r, n).labels for r, n in both),
        )
        _wait("the queue to drain", lambda: _quiet(sandbox, store))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    assert _workers(store) == {p.pid for p in procs}  # both processes drained the queue
    writes = _writes(sandbox)
    assert set(writes.values()) == {1}, writes  # no write made twice
    removal = re.compile(rf"/repos/(\w+/\w+)/issues/(\d+)/labels/{FLAG}$")
    lifted = {f"{m[1]}#{m[2]}" for _, p in writes if (m := removal.search(p))}
    assert lifted == {"acme/web#9", "acme/mobile#7", "acme/web#10"}
    assert ("PUT", "/jira/rest/api/3/issue/PLAT-10") in writes


def _runs_done(store: Store) -> int:
    """Runs that ended `ok` (the other instance's skipped run also ends, at once)."""
    with store.session() as s:
        return int(s.scalar(select(func.count()).where(RunRow.result == "ok")) or 0)
