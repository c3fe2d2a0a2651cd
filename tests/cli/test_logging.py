"""Logging as configured: `logging.level`/`logging.format` applied, the command line wins,
connector retries reach the service log, and a log line cannot be split or forged."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

from bmmsync.logs import JsonFormatter, KeyValueFormatter
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "bmmsync.test", "levelname": "INFO", "msg": msg})
    record.__dict__.update(extra)
    return record


def test_key_value_escapes_equals_quotes_and_newlines() -> None:
    line = KeyValueFormatter().format(
        _record(
            "title changed\nforged 2026-01-01T00:00:00Z error x: y",
            key="acme/web#1",
            title='a b="c" d=e\nf',
            empty="",
        )
    )
    assert "\n" not in line
    assert "title changed\\nforged" in line
    assert ' key=acme/web#1 title="a b=\\"c\\" d=e\\nf" empty=""' in line
    forged = KeyValueFormatter().format(_record("done", note="x retried=0"))
    assert forged.endswith(' note="x retried=0"')
    assert KeyValueFormatter().format(_record("a=b")).endswith(': "a=b"')


def test_json_extras_cannot_overwrite_time_level_or_message() -> None:
    doc = json.loads(
        JsonFormatter().format(
            _record("real", time="forged", level="debug", logger="x", source="web")
        )
    )
    assert doc["message"] == "real" and doc["level"] == "info" and doc["logger"] == "bmmsync.test"
    assert doc["time"].startswith("20") and doc["time"] != "forged"
    assert doc["extra_time"] == "forged" and doc["extra_level"] == "debug"
    assert doc["source"] == "web"


def test_log_format_accepts_only_text_or_json(tmp_path: Path) -> None:
    result = run_cli("--log-format", "xml", "status", cwd=tmp_path)
    assert result.returncode == 2
    assert "--log-format" in result.stderr and "'text'" in result.stderr
    assert "Traceback" not in result.stderr


def _json_lines(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_config_logging_is_applied_and_the_command_line_wins(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    config.write_text(config.read_text() + "logging: {level: info, format: json}\n")
    result = run_cli("--config", str(config), "sync")
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stderr)
    assert lines and len(lines) == len(result.stderr.splitlines()), result.stderr
    assert {line["level"] for line in lines} == {"info"}

    config.write_text(config.read_text().replace("level: info", "level: error"))
    quiet = run_cli("--config", str(config), "sync")
    assert quiet.returncode == 0 and quiet.stderr == ""

    text = run_cli("--config", str(config), "--log-format", "text", "--debug", "sync")
    assert text.returncode == 0, text.stderr
    assert not _json_lines(text.stderr)
    assert " info bmmsync.sync: source synced " in text.stderr


def test_connector_retries_reach_the_service_log(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url)
    assert run_cli("--config", str(config), "model", "sync").returncode == 0
    control = SandboxControl(sandbox.url)
    try:
        control.fault(r"/jira/rest/api/\d/search/jql", 503)
        result = run_cli("--config", str(config), "--log-format", "json", "run", "--once")
    finally:
        control.close()
    assert result.returncode == 0, result.stderr
    retries = [
        line for line in _json_lines(result.stderr) if line["logger"] == "connectors.http_errors"
    ]
    assert retries and retries[0]["message"] == "retrying", result.stderr
    assert retries[0]["source"] == "platform" and retries[0]["status"] == 503


def test_the_service_applies_a_logging_edit_at_its_next_run(
    tmp_path: Path, sandbox: SandboxServer, db_url: str
) -> None:
    """The service re-reads its config before each run; a `logging` edit counts too."""
    config = write_sandbox_config(tmp_path, sandbox, db_url, poll="2s")
    assert run_cli("--config", str(config), "model", "sync").returncode == 0
    proc = subprocess.Popen(
        [BMMSYNC, "--config", str(config), "run"],
        env={**os.environ, "NO_COLOR": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    edited = False
    watchdog = threading.Timer(120, proc.kill)  # a hang fails the test instead of the suite
    watchdog.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if not edited and " bmmsync.service: " in line:
                config.write_text(config.read_text() + "logging: {format: json}\n")
                edited = True
            if line.startswith("{") and json.loads(line)["logger"] == "bmmsync.service":
                break
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert any(line.startswith("{") for line in lines), "".join(lines[-20:])
    assert not lines[0].startswith("{"), "text until the edit"
