"""The console script: version, help everywhere, config check, model commands, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from bmmsync import __version__
from bmmsync.cli.main import app
from tests.cli.helpers import REPO, run_cli, write_config


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"bmmsync {__version__}"


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_help_on_every_command() -> None:
    """In-process (CliRunner): one process per command would cost a second each."""
    runner = CliRunner()
    for path in _command_paths():
        result = runner.invoke(app, [*path, "--help"], prog_name="bmmsync")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: bmmsync" in result.output, path
    assert len(_command_paths()) > 20


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_config_check_ok(tmp_path: Path) -> None:
    write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    result = run_cli("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "config OK: bmmsync.yaml" in result.stdout
    assert "3 capabilities" in result.stdout


def test_broken_config_lists_every_problem_with_file_line_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "store: {url: 'sqlite:///x.db'}\n"
        "model_file: model.yaml\n"
        "mapping:\n"
        "  capabilty_labels: ['cap:{id}']\n"
        "flagging:\n"
        "  max_writes_per_run: lots\n"
    )
    (tmp_path / "model.yaml").write_text((REPO / "config" / "model.example.yaml").read_text())
    result = run_cli("--config", str(path), "config", "check")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(
        f"{path}:4: mapping.capabilty_labels" in line and "capability_labels" in line
        for line in lines
    ), lines
    assert any(f"{path}:6: flagging.max_writes_per_run" in line for line in lines), lines
    assert not (tmp_path / "x.db").exists(), "a broken config writes nothing"


def test_missing_config_says_where_it_looked(tmp_path: Path) -> None:
    result = run_cli("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "no config file found" in result.stderr
    assert "BMMSYNC_CONFIG" in result.stderr


def test_config_schema_is_json() -> None:
    result = run_cli("config", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "sources" in schema["properties"]


def test_model_sync_show_export(tmp_path: Path, db_url: str) -> None:
    write_config(tmp_path, db_url)
    first = run_cli("model", "sync", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "added 3 capabilities" in first.stdout
    again = run_cli("model", "sync", "--format", "json", cwd=tmp_path)
    assert json.loads(again.stdout) == {"added": {}, "changed": {}, "retired": {}}
    shown = run_cli("model", "show", cwd=tmp_path)
    assert shown.returncode == 0
    assert "motivator retention" in shown.stdout
    assert "capability self-service-portal" in shown.stdout
    exported = run_cli("model", "export", "--format", "json", cwd=tmp_path)
    assert {c["id"] for c in json.loads(exported.stdout)["capabilities"]} == {
        "self-service-portal",
        "portal-mobile",
        "user-data-export",
    }
    # An entry removed from the file is retired, not deleted.
    model = (tmp_path / "model.yaml").read_text()
    (tmp_path / "model.yaml").write_text(model.replace("portal-mobile", "portal-mobile-v2"))
    changed = run_cli("model", "sync", "--format", "json", cwd=tmp_path)
    report = json.loads(changed.stdout)
    assert report["retired"] == {"capabilities": ["portal-mobile"]}
    assert report["added"] == {"capabilities": ["portal-mobile-v2"]}
    exported = json.loads(run_cli("model", "export", "--format", "json", cwd=tmp_path).stdout)
    statuses = {c["id"]: c.get("status", "active") for c in exported["capabilities"]}
    assert statuses["portal-mobile"] == "retired"


def test_db_upgrade_is_idempotent(tmp_path: Path, db_url: str) -> None:
    write_config(tmp_path, db_url)
    result = run_cli("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "already at revision" in result.stdout


def test_unreachable_database_exit_2(tmp_path: Path) -> None:
    write_config(tmp_path, "postgresql+psycopg://bot:hunter2@127.0.0.1:1/none")
    result = run_cli("model", "sync", cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot open the store" in result.stderr
    assert "hunter2" not in result.stderr


def test_global_options_are_accepted_after_the_command(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    result = run_cli("config", "check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert f"config OK: {path}" in result.stdout
