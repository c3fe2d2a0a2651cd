"""`bmmsync plan`, `apply`, `audit`, `review` as a user runs them, against the sandbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from bmmsync.sandbox.server import SandboxServer
from tests.cli.helpers import run_cli, write_sandbox_config


def cli(config: Path, *args: str) -> str:
    result = run_cli("--config", str(config), *args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_plan_apply_audit_review(tmp_path: Path, sandbox: SandboxServer, db_url: str) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url, budget=30)
    cli(config, "model", "sync")
    cli(config, "sync")

    planned = json.loads(cli(config, "plan", "--format", "json"))
    applied = json.loads(cli(config, "apply", "--format", "json"))

    assert len(planned["writes"]) == applied["done"] == 30
    assert applied["deferred"] == planned["stats"]["deferred"] > 0
    audit = json.loads(cli(config, "audit", "--format", "json"))
    issue_writes = [r for r in reversed(audit) if r["action"] != "ensure-label"]
    assert [(r["key"], r["action"]) for r in issue_writes] == [
        (w["key"], w["action"]) for w in planned["writes"]
    ]
    first = planned["writes"][0]["key"]
    assert {
        r["key"] for r in json.loads(cli(config, "audit", "--key", first, "--format", "json"))
    } == {first}
    assert "add-label" in cli(config, "audit")

    records = json.loads(cli(config, "review", "--format", "json"))
    assert records
    for r in records:
        assert {
            "source",
            "key",
            "url",
            "title",
            "reason",
            "detail",
            "flagged_since",
            "suggestion",
        } <= set(r)
    assert [r["reason"] for r in records] == sorted(r["reason"] for r in records)
    flagged = {w["key"] for w in planned["writes"]}
    assert {r["key"] for r in records if r["flagged_since"]} == flagged
    only = json.loads(
        cli(config, "review", "--source", "web", "--reason", "no-capability", "--format", "json")
    )
    assert only and {(r["source"], r["reason"]) for r in only} == {("web", "no-capability")}
    assert json.loads(cli(config, "review", "--older-than", "7d", "--format", "json")) == []

    markdown = cli(config, "review", "--format", "markdown")
    assert markdown.startswith("# Broken trace links") and "| Item | Title |" in markdown
    rows = list(csv.DictReader(io.StringIO(cli(config, "review", "--format", "csv"))))
    assert len(rows) == len(records)
    assert "item(s) with a broken trace" in cli(config, "review")
    assert "write(s) planned" in cli(config, "plan")
