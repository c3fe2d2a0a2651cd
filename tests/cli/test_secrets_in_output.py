"""The README's secrets promise, end to end: with tokens from the environment and a file,
every command and the service, at `--debug` and with `--log-format json`, against the
sandbox, print no token, log no token, and leave none in the store."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.models import Base
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config

GH_TOKEN = "bot-token"
JIRA_TOKEN = "jira-bot-token"
JIRA_BASIC = base64.b64encode(f"bot@example.com:{JIRA_TOKEN}".encode()).decode()


def _config(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> tuple[Path, dict[str, str | None]]:
    config = write_sandbox_config(tmp_path, sandbox, db_url, budget=5)
    text = config.read_text()
    text = text.replace(f"token: {JIRA_TOKEN}", 'token: "${file:jira.token}"')
    text = text.replace(f"token: {GH_TOKEN}", 'token: "${TEST_GH_TOKEN}"')
    assert GH_TOKEN not in text
    config.write_text(text)
    (tmp_path / "jira.token").write_text(JIRA_TOKEN + "\n")
    return config, {"TEST_GH_TOKEN": GH_TOKEN}


def _leaks(text: str) -> list[str]:
    return [s for s in (GH_TOKEN, JIRA_TOKEN, JIRA_BASIC) if s in text]


def _store_text(db_url: str) -> str:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return "\n".join(
                repr(row)
                for table in Base.metadata.sorted_tables
                for row in conn.execute(select(table))
            )
    finally:
        engine.dispose()


def _last_run(config: Path, env: dict[str, str | None]) -> dict[str, Any]:
    status = run_cli("--config", str(config), "status", "--format", "json", env=env)
    return json.loads(status.stdout)["last_run"]  # type: ignore[no-any-return]


COMMANDS = [
    ["model", "sync"],
    ["config", "check"],
    ["sync"],
    ["check", "--format", "json"],
    ["plan"],
    ["apply"],
    ["run", "--once"],
    ["review"],
    ["review", "--format", "json"],
    ["explain", "PLAT-1"],
    ["audit"],
    ["status", "--format", "json"],
    ["report"],
]


def test_no_token_in_output_logs_or_store(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    config, env = _config(tmp_path, sandbox, db_url)
    seen = 0
    runs = [("json", args) for args in COMMANDS] + [("text", ["sync"]), ("text", ["run", "--once"])]
    for log_format, args in runs:
        result = run_cli(
            "--config", str(config), "--debug", "--log-format", log_format, *args, env=env
        )
        assert result.returncode in (0, 1), (args, result.stderr)
        assert not _leaks(result.stdout + result.stderr), (args, log_format)
        seen += len(result.stderr.splitlines())
    assert seen > 10, "the debug runs logged something to check"

    # The service: its first run starts at once; wait for it to finish, then SIGTERM.
    before = _last_run(config, env)
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(config), "--debug", "--log-format", "json", "run"],
        env={**os.environ, **env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            last = _last_run(config, env)
            if last and last["id"] != before["id"] and last["finished_at"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the service did not finish a run")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert '"logger": "bmmsync.service"' in err
    assert not _leaks(out + err)
    assert not _leaks(_store_text(db_url))
