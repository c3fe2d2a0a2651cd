"""The dashboard's effort by goal and key results are those of `bmmsync report` for the same
period, on the demo data synced over HTTP from the sandbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from tests.cli.helpers import run_cli
from tests.web.conftest import Dashboard


def test_report_page_outcomes_equal_the_cli_report(dashboard: Dashboard) -> None:
    # Every delivered demo ticket closed 75 to 130 days ago.
    measured = run_cli(
        "--config", str(dashboard.config_path), "model", "measure", "retention", "churn", "12%"
    )
    assert measured.returncode == 0, measured.stderr
    cli = run_cli(
        "--config", str(dashboard.config_path), "report", "--since", "140d", "--format", "json"
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)["outcomes"]

    page = dashboard.client.get("/api/report", params={"days": 140})
    assert page.status_code == 200
    got = page.json()["outcomes"]

    assert got["period"]["label"] == expected["period"]["label"] == "last 140d"
    assert got["effort"] == expected["effort"]
    assert {e["unit"] for e in got["effort"]} == {"points", "items"}
    assert got["key_results"] == expected["key_results"]
    assert any(kr["current"] == 12 for kr in got["key_results"])

    html = dashboard.client.get("/report", params={"days": 140}).text
    points = next(e for e in got["effort"] if e["unit"] == "points")
    assert f"over {points['tickets']} ticket(s)" in html
    for kr in got["key_results"]:
        assert kr["summary"].replace("<", "&lt;").replace(">", "&gt;") in html

    # Outside the period nothing was delivered: the figures follow the window.
    assert (
        dashboard.client.get("/api/report", params={"days": 30}).json()["outcomes"]["effort"] == []
    )


def test_capability_page_shows_its_delivered_work(dashboard: Dashboard) -> None:
    cli = run_cli(
        "--config", str(dashboard.config_path), "report", "--since", "90d", "--format", "json"
    )
    assert cli.returncode == 0, cli.stderr
    effort = json.loads(cli.stdout)["outcomes"]["effort"]
    expected = {(e["unit"], row["id"]): row["amount"] for e in effort for row in e["by_capability"]}
    assert expected  # the demo delivered traced work in the last 90 days
    for (unit, cid), amount in expected.items():
        if cid.startswith("("):
            continue
        got = dashboard.client.get(f"/api/capabilities/{cid}").json()["delivered_90_days"]
        assert {"unit": unit, "amount": amount} in [
            {"unit": d["unit"], "amount": d["amount"]} for d in got
        ]
        html = dashboard.client.get(f"/capabilities/{cid}").text
        assert f"{round(amount, 2)} {unit} (" in html
