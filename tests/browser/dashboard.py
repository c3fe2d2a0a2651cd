"""The real dashboard for the browser tests: `bmmsync serve` over a store that a real sync of
the sandbox demo filled, plus hostile tickets that try to run script in the page."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bmmsync.domain import Ticket
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.ticket_repo import upsert_tickets
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config
from tests.patience import PATIENCE

TRAP = "window.__pwned"
# Each would set window.__pwned if the page ever treated tracker text as markup or script.
HOSTILE_TITLE = (
    "<img src=x onerror=window.__pwned=1></script><script>window.__pwned=2</script>"
    " \u202egnp.exe\u202c javascript:window.__pwned=3 " + "long " * 200
)
HOSTILE_LABEL = "cap:<svg onload=window.__pwned=4>"
# A ticket whose tracker link is script: the store keeps what the tracker said.
SCRIPT_LINK_KEY = "acme/web#9001"
SCRIPT_LINK = "javascript:window.__pwned=5"


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard: its base `url`, the `config` it serves and its store's `db_url`."""

    url: str
    config: Path
    db_url: str
    hostile_key: str


def fill_store(server: SandboxServer, directory: Path, db_url: str) -> tuple[Path, str]:
    """Sync, check and flag the demo data plus the hostile tickets, as `bmmsync run` does."""
    control = SandboxControl(server.url)
    control.reset()
    control.seed("demo")
    hostile = control.github_create(repo="acme/web", title=HOSTILE_TITLE, labels=[HOSTILE_LABEL])
    control.close()
    config = write_sandbox_config(directory, server, db_url)
    ran = run_cli("--config", str(config), "run", "--once")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    store = Store.open(db_url)
    with store.session() as session:
        upsert_tickets(
            session,
            [
                Ticket(
                    source="web",
                    key=SCRIPT_LINK_KEY,
                    title="A tracker link that is script",
                    url=SCRIPT_LINK,
                    project="acme/web",
                )
            ],
            datetime.now(UTC),
        )
    store.close()
    checked = run_cli("--config", str(config), "check")
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    return config, str(hostile["key"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`bmmsync serve` in a process of its own, once `/livez` answers."""
    port = _free_port()
    command = [BMMSYNC, "--config", str(config), "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bmmsync serve exited {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(url + "/livez", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"bmmsync serve did not answer /livez in 60 s: {log.read_text()}")
