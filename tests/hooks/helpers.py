"""A real HTTP server for the hook routes, the sandbox wired to it, and waiting on deliveries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from bmmsync.config.settings import Config, load_config
from bmmsync.hooks.routes import hook_routes
from bmmsync.hooks.worker import DrainReport, Worker
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.uvicorn_thread import listening_socket, start_in_thread
from tests.cli.helpers import write_sandbox_config

GITHUB_SECRET = "gh-hook-secret-123"
JIRA_SECRET = "jira-hook-secret-456"


def hook_config(tmp_path: Path, sandbox: SandboxServer, db_url: str, **kw: Any) -> Config:
    path = write_sandbox_config(tmp_path, sandbox, db_url, **kw)
    path.write_text(
        path.read_text()
        + f"webhooks: {{github_secret: {GITHUB_SECRET}, jira_secret: {JIRA_SECRET}}}\n"
    )
    return load_config(path)


@contextmanager
def serve_hooks(config: Config, store: Store) -> Iterator[str]:
    """The two endpoints on a real uvicorn server in a thread; yields its root URL."""
    with serve_app(Starlette(routes=hook_routes(lambda: config, store))) as root:
        yield root


@contextmanager
def serve_app(app: Starlette) -> Iterator[str]:
    """`app` on a real uvicorn server in a thread; yields its root URL."""
    sock = listening_socket("127.0.0.1", 0, backlog=128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = start_in_thread(server, sock, "hook-server")
    assert thread is not None, "hook server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def register(sandbox: SandboxServer, root: str) -> None:
    with httpx.Client(base_url=sandbox.url) as client:
        for tracker, secret in (("github", GITHUB_SECRET), ("jira", JIRA_SECRET)):
            answer = client.post(
                "/_sandbox/webhooks",
                json={"url": f"{root}/hooks/{tracker}", "tracker": tracker, "secret": secret},
            )
            answer.raise_for_status()


def deliveries(sandbox: SandboxServer, *, settle: float = 15.0) -> list[dict[str, Any]]:
    """The sandbox's delivery log once nothing is pending (sent or dropped)."""
    deadline = time.monotonic() + settle
    while True:
        snap = sandbox.sandbox.webhooks.snapshot()
        if snap["pending"] == 0 or time.monotonic() > deadline:
            return list(snap["deliveries"])
        time.sleep(0.02)


def _add(total: DrainReport, report: DrainReport) -> None:
    for name in ("events", "echoes", "fetched", "gone", "unwatched", "retried", "writes"):
        setattr(total, name, getattr(total, name) + getattr(report, name))
    total.failed_writes += report.failed_writes
    total.errors += report.errors


def drain(
    config: Config, store: Store, holder: str = "test-worker", now: datetime | None = None
) -> DrainReport:
    """Drain the queue to empty with a real worker; the reports of every batch, summed."""
    worker = Worker(lambda: config, store, holder)
    total = DrainReport()
    while True:
        report = worker.drain_once(now=now)
        if not report.events:
            return total
        _add(total, report)


def settle(sandbox: SandboxServer, config: Config, store: Store) -> DrainReport:
    """Deliver and drain until quiet: what a live service reaches within seconds."""
    total = DrainReport()
    while True:
        deliveries(sandbox)
        report = drain(config, store)
        if not report.events:
            return total
        _add(total, report)
