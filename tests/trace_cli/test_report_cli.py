"""`bmmsync report` on a real store: figures now, per group, and trends from stored snapshots.

Snapshots are stored the way the service stores its daily one (`checking.store_snapshot`),
at chosen past instants, between changes to the tickets; `check` adds one of its own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from bmmsync.checking import judge_store, store_snapshot
from bmmsync.cli.report_cmd import window_start
from bmmsync.cli.trace_cmds import as_of_date
from bmmsync.config.settings import load_config
from bmmsync.domain import Ticket
from bmmsync.store.database import Store
from bmmsync.store.map_repo import sync_model
from bmmsync.store.ticket_repo import upsert_tickets
from tests.cli.helpers import run_cli, write_config


def _web(n: int, **fields: Any) -> Ticket:
    return Ticket(source="web", key=f"acme/web#{n}", title=f"#{n}", project="acme/web", **fields)


def _jira(n: int, **fields: Any) -> Ticket:
    return Ticket(source="jira", key=f"PLAT-{n}", title=f"PLAT-{n}", project="PLAT", **fields)


def _table_rows(text: str) -> dict[str, list[str]]:
    """Rich table rows by their first cell (column widths vary with the content)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_report_figures_and_trends(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path, db_url)
    config = load_config(path)
    rules = config.mapping.to_rules()
    now = datetime.now(UTC)
    stages = [
        # 200 days ago (outside a 90-day window): 1 of 2 traced.
        (200, [_web(1, labels=("cap:portal",)), _web(3)]),
        # 30 days ago: a typo and a Jira ticket without capability: 1 of 4.
        (30, [_web(4, labels=("cap:self-service-portl",)), _jira(1)]),
        # 10 days ago: a child inherits from #1: 2 of 5.
        (10, [_web(2, parent_key="acme/web#1")]),
    ]
    store = Store.open(db_url)
    with store.session() as s:
        sync_model(s, config.load_model(), now - timedelta(days=365))
    for days, tickets in stages:
        at = now - timedelta(days=days)
        with store.session() as s:
            upsert_tickets(s, tickets, at)
            store_snapshot(s, judge_store(s, rules, at.date()), at)
    with store.session() as s:  # now: #3 gets a capability: 3 of 5, 1 of 4 web tickets broken
        upsert_tickets(s, [_web(3, labels=("cap:portal",))], now)
    store.close()

    out = json.loads(run_cli("report", "--format", "json", cwd=tmp_path).stdout)
    assert out["counts"] == {"tickets": 5, "in_scope": 5, "traced": 3}
    assert out["overall"]["traceability"] == {"now": 0.6, "first": 0.25, "change": 0.35}
    assert out["overall"]["debt_ratio"] == {"now": 0.4, "first": 0.75, "change": -0.35}
    assert out["overall"]["motivator_coverage"]["now"] == 1.0
    assert [p["traceability"] for p in out["trend"]["series"]] == [0.25, 0.4]
    assert out["trend"]["snapshots"] == 2
    web, jira = out["by_source"]["web"], out["by_source"]["jira"]
    assert (web["in_scope"], web["traced"], web["traceability"]) == (4, 3, 0.75)
    assert web["traceability_change"] == pytest.approx(0.75 - 1 / 3)
    assert (jira["traceability"], jira["traceability_change"]) == (0.0, 0.0)
    assert set(out["by_project"]) == {"web:acme/web", "jira:PLAT"}
    portal = out["by_capability"]["self-service-portal"]
    assert (portal["in_scope"], portal["traced"], portal["traceability_change"]) == (3, 3, 0.0)

    year = (now - timedelta(days=365)).date().isoformat()
    since_date = json.loads(
        run_cli("report", "--format", "json", "--since", year, cwd=tmp_path).stdout
    )
    assert since_date["since"] == year and since_date["trend"]["snapshots"] == 3
    assert since_date["overall"]["traceability"]["first"] == 0.5

    # `check` stores a snapshot, which the next report's series ends with.
    assert run_cli("check", cwd=tmp_path).returncode == 1
    table = run_cli("report", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "3 snapshot(s) since" in table.stdout
    rows = _table_rows(table.stdout)
    assert rows["requirement traceability"] == ["60.0%", "25.0%", "+35.0 pp"]
    assert rows["technical-debt ratio"] == ["40.0%", "75.0%", "-35.0 pp"]
    assert rows["web"] == ["4", "3", "75.0%", "+41.7 pp", "25.0%", "-41.7 pp"]
    assert "capabilities with no open ticket: portal-mobile, user-data-export" in table.stdout


def test_dates_are_usage_errors_not_crashes() -> None:
    assert as_of_date("2026-02-28").isoformat() == "2026-02-28"
    with pytest.raises(typer.BadParameter, match="expected YYYY-MM-DD"):
        as_of_date("2026-02-30")


def test_window_start_takes_a_duration_or_a_date() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert window_start("90d", now) == now - timedelta(days=90)
    assert window_start("2w", now) == now - timedelta(weeks=2)
    assert window_start("2026-09-01", now) == datetime(2026, 9, 1, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="duration such as 90d"):
        window_start("last quarter", now)
