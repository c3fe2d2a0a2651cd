"""The dashboard's effort by goal and key results are those of `bmmsync report` for the same
period, on the demo data synced over HTTP from the sandbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import delete, select

from bmmsync.store.database import Store
from bmmsync.store.models import DashboardAggregateRow
from bmmsync.web.aggregates import CAPABILITY, WINDOW
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


def test_window_figures_summed_by_the_check_equal_the_days(dashboard: Dashboard) -> None:
    """The check sums the 90-day window once; figures stored by an older bmmsync (no window)
    give the same pages, summed from the stored days per request."""
    caps = {row["id"] for e in _report(dashboard)["outcomes"]["effort"] for row in
            e["by_capability"] if not row["id"].startswith("(")}  # fmt: skip
    assert caps
    before = (_report(dashboard), {c: _capability(dashboard, c) for c in caps})
    store = Store.open(dashboard.db_url)
    with store.session() as session:
        session.execute(delete(DashboardAggregateRow).where(
            DashboardAggregateRow.scope.startswith(WINDOW)))  # fmt: skip
        for row in session.scalars(
            select(DashboardAggregateRow).where(DashboardAggregateRow.scope.startswith(CAPABILITY))
        ):
            assert "delivered" in row.figures
            row.figures = {k: v for k, v in row.figures.items() if k != "delivered"}
    store.close()
    after = (_report(dashboard), {c: _capability(dashboard, c) for c in caps})
    assert after == before


def _report(dashboard: Dashboard) -> dict[str, object]:
    """/api/report without the period's end (the time of the request)."""
    report = dashboard.client.get("/api/report").json()
    del report["outcomes"]["period"]["end"]
    return dict(report)


def _capability(dashboard: Dashboard, cid: str) -> object:
    return dashboard.client.get(f"/api/capabilities/{cid}").json()["delivered_90_days"]
