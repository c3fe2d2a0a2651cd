"""`bmmsync report` answers "how much of the period's delivered work went to each goal, and how
far is each key result" on the demo data, synced over HTTP from the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bmmsync.sandbox.server import SandboxServer
from tests.cli.helpers import run_cli, write_sandbox_config


def test_report_outcomes_on_the_demo(tmp_path: Path, sandbox: SandboxServer, db_url: str) -> None:
    path = str(write_sandbox_config(tmp_path, sandbox, db_url))
    assert run_cli("--config", path, "sync").returncode == 0
    assert run_cli("--config", path, "check").returncode in (0, 1)  # stores a snapshot
    measured = run_cli("--config", path, "model", "measure", "retention", "churn", "12%")
    assert measured.returncode == 0, measured.stderr
    # Every delivered demo ticket closed 75 to 130 days ago; the window ends today.
    start = (datetime.now(UTC) - timedelta(days=140)).date().isoformat()

    result = run_cli("--config", path, "report", "--from", start, "--format", "json")

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)["outcomes"]
    effort = {e["unit"]: e for e in out["effort"]}
    assert set(effort) == {"points", "items"}
    points = effort["points"]  # PLAT-3 (5, inherits the portal) and PLAT-23 (3, guided setup)
    assert (points["tickets"], points["total"], points["untraced"]) == (2, 8.0, 0.0)
    assert [(r["id"], r["share"]) for r in points["by_motivator"]] == [("retention", 1.0)]
    by_cap = {r["id"]: r["amount"] for r in points["by_capability"]}
    assert by_cap == {"self-service-portal": 5.0, "guided-setup": 3.0}
    items = effort["items"]  # web#3, web#22, mobile#3, and mobile#15 (design-system: untraced)
    assert (items["tickets"], items["untraced"]) == (4, 1.0)
    assert {r["id"] for r in items["by_capability"]} == {
        "self-service-portal",
        "mobile-offline",
        "observability",
        "(untraced)",
    }
    assert sum(r["amount"] for r in items["by_motivator"]) == pytest.approx(4.0)
    assert out["velocity"]["overall"]["items"] == 5 and out["velocity"]["overall"]["points"] == 8
    # the snapshot kept the four weeks before it: none of the demo's closings is that recent
    [point] = out["velocity"]["trend"]
    assert (point["items_per_week"], point["points_per_week"]) == (0.0, 0.0)
    churn = next(kr for kr in out["key_results"] if kr["metric"] == "churn")
    assert [value for _, value in churn["history"]] == [15.0, 14.0, 12.0]
    assert churn["summary"].startswith("Increase customer retention: churn 12 % -> target < 10 %")
    assert churn["summary"].endswith("60 % of the way")

    table = run_cli("--config", path, "report", "--from", start)
    assert "Delivered work by goal" in table.stdout
    assert "retention 8 points (100.0%)" in table.stdout

    exported = run_cli("--config", path, "model", "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    portal = [row for row in exported.stdout.splitlines() if ",self-service-portal," in row]
    assert portal and all(row.endswith(",8,1,87.5,") for row in portal)  # health from the store
