"""A dashboard over a real store (SQLite and PostgreSQL) filled by a real run against the
sandbox, with one hostile ticket among the demo data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bmmsync.bot.flagging import apply_step
from bmmsync.config.settings import Config, load_config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.web.app import create_app
from bmmsync.web.storehandle import StoreHandle
from tests.cli.helpers import write_sandbox_config

HOSTILE_TITLE = (
    '<script>window.pwned=1</script><img src=x onerror="window.pwned=1"> '
    "\u202eevil\u202c [bold red]markup[/] \x1b[31mansi " + "long " * 400
)
HOSTILE_LABEL = 'cap:"><script>alert(1)</script>'


@dataclass
class Dashboard:
    config: Config
    config_path: Path
    db_url: str
    client: TestClient
    hostile_key: str


@pytest.fixture
def dashboard(
    tmp_path: Path, db_url: str, sandbox: SandboxServer, sandbox_control: SandboxControl
) -> Iterator[Dashboard]:
    created = sandbox_control.github_create(
        repo="acme/web", title=HOSTILE_TITLE, labels=[HOSTILE_LABEL]
    )
    path = write_sandbox_config(tmp_path, sandbox, db_url)
    config = load_config(path)
    store = Store.open(db_url)
    try:
        report = run_once(config, store, apply_writes=apply_step(threading.Event()))
    finally:
        store.close()
    assert report.result == "ok", report.errors
    handle = StoreHandle(db_url)
    with TestClient(create_app(config, handle)) as client:
        yield Dashboard(config, path, db_url, client, f"acme/web#{created['number']}")
    handle.close()
