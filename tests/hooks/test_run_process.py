"""`bmmsync run` as a user starts it: the hooks on its web server, the worker in its process.
A label fix on the tracker lifts the flag from one delivery, with no poll in between."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth
from tests.cli.helpers import BMMSYNC, write_sandbox_config
from tests.hooks.helpers import GITHUB_SECRET, JIRA_SECRET, register

FLAG = "trace-broken"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check: object, seconds: float = 60) -> None:
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
        _wait("the flag to go", lambda: FLAG not in _issue_labels(sandbox), 30)
        assert _lists(sandbox) == polls  # no poll: the delivery did it
        _wait("the queue to drain", lambda: _depth(store) == 0, 10)
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
