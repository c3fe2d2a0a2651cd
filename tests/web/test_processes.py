"""`bmmsync serve` and `bmmsync run` as real processes: one process is the whole service."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bmmsync.sandbox.server import SandboxServer
from tests.cli.helpers import BMMSYNC, run_cli, write_config, write_sandbox_config
from tests.patience import PATIENCE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(
    url: str, proc: subprocess.Popen[str], ok: object = None, seconds: float = PATIENCE
) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200 and (ok is None or ok(response.text)):  # type: ignore[operator]
                return response.text
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in time")


def test_serve_prints_its_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(path), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.match(r"dashboard on (http://127\.0\.0\.1:\d+)/", line)
        assert url, line
        assert _wait(url.group(1) + "/livez", proc) == "ok\n"
        assert "bmmsync run --once" in httpx.get(url.group(1) + "/", timeout=10).text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=PATIENCE)
    assert proc.returncode == 0


def test_serve_refuses_open_dashboard_off_loopback(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    result = run_cli("--config", str(path), "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "loopback" in result.stderr and "Traceback" not in result.stderr


def test_run_serves_dashboard_health_and_metrics(tmp_path: Path, sandbox: SandboxServer) -> None:
    port = _free_port()
    path = write_sandbox_config(tmp_path, sandbox, f"sqlite:///{tmp_path / 'store.db'}")
    path.write_text(path.read_text() + f"web: {{listen: '127.0.0.1:{port}'}}\n")
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(base + "/livez", proc)
        metrics = _wait(base + "/metrics", proc, lambda t: "bmmsync_run_duration_seconds_count" in t
                        and 'result="ok"' in t)  # fmt: skip
        assert "bmmsync_tracker_requests_total" in metrics
        assert httpx.get(base + "/readyz", timeout=10).status_code == 200
        status = httpx.get(base + "/api/status", timeout=10).json()
        assert status["runs"] and status["runs"][0]["result"] in {"ok", "running"}
        assert httpx.get(base + "/api/", timeout=10).json()["overall"]["in_scope"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=PATIENCE)
    assert proc.returncode == 0


def _sigint_ignored() -> None:
    """What a process started in the background of a script inherits (`cmd &`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_demo_keep_running_prints_the_dashboard_url_and_serves_it(tmp_path: Path) -> None:
    """...and stops on SIGINT even when it inherited SIGINT ignored (a suite run from a
    background loop once left it running for an hour)."""
    proc = subprocess.Popen(
        [BMMSYNC, "demo", "--keep-running", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        preexec_fn=_sigint_ignored,
    )
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            found = re.fullmatch(r"Dashboard: (http://127\.0\.0\.1:\d+)/\n", line)
            if found:
                url = found.group(1)
                break
        assert url, proc.stderr.read() if proc.stderr else ""
        review = httpx.get(url + "/api/review", timeout=30).json()
        assert review["results"]["total"] > 10
        assert "unknown-capability" in httpx.get(url + "/review", timeout=30).text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=PATIENCE)
