"""`bmmsync check` on a real store (SQLite and PostgreSQL), through the console script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bmmsync.config.settings import load_config
from bmmsync.domain import Ticket
from bmmsync.store.database import Store
from bmmsync.store.map_repo import sync_model
from bmmsync.store.models import MetricSnapshotRow, TraceLinkRow
from bmmsync.store.ticket_repo import upsert_tickets
from bmmsync.store.verdict_repo import stored_verdicts
from tests.cli.helpers import run_cli, write_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _arrange(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path, db_url)
    config = load_config(path)
    tickets = [
        Ticket(source="web", key="acme/web#1", title="Portal login", labels=("cap:portal",)),
        Ticket(source="web", key="acme/web#2", title="Child", parent_key="acme/web#1"),
        Ticket(source="web", key="acme/web#3", title="Nothing"),
        Ticket(source="web", key="acme/web#4", title="Typo", labels=("cap:self-service-portl",)),
        Ticket(source="web", key="acme/web#5", title="Done", closed=True, state="closed"),
    ]
    store = Store.open(db_url)
    with store.session() as s:
        sync_model(s, config.load_model(), NOW)
        upsert_tickets(s, tickets, NOW)
    store.close()


def test_check_summarises_and_records_verdicts(tmp_path: Path, db_url: str) -> None:
    _arrange(tmp_path, db_url)
    result = run_cli("check", "--format", "json", "--today", "2026-11-23", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # error-level findings
    out = json.loads(result.stdout)
    summary = out["summary"]
    assert (summary["tickets"], summary["in_scope"], summary["traced"]) == (5, 4, 2)
    reasons = {(f["key"], f["reason"]) for f in out["findings"]}
    assert ("acme/web#3", "no-capability") in reasons
    assert ("acme/web#4", "unknown-capability") in reasons
    typo = next(f for f in out["findings"] if f["key"] == "acme/web#4")
    assert "cap:self-service-portal" in typo["suggestion"]
    idle = {f["detail"].split("`")[1] for f in out["map_findings"]}
    assert {f["reason"] for f in out["map_findings"]} == {"map-capability-without-work"}
    assert idle == {"portal-mobile", "user-data-export"}  # the example map's other capabilities

    store = Store.open(db_url)
    with store.session() as s:
        verdicts = {v.key: v for v in stored_verdicts(s)}
        links = {(r.key, r.capability, r.via) for r in s.scalars(select(TraceLinkRow))}
        snapshots = s.scalars(select(MetricSnapshotRow)).all()
    store.close()
    assert snapshots == []  # --today is a preview: no snapshot
    assert verdicts["acme/web#2"].traced and not verdicts["acme/web#3"].traced
    assert not verdicts["acme/web#5"].in_scope
    assert ("acme/web#2", "self-service-portal", "inherited") in links


def test_check_table_and_markdown(tmp_path: Path, db_url: str) -> None:
    _arrange(tmp_path, db_url)
    table = run_cli("check", cwd=tmp_path)
    assert table.returncode == 1
    assert "5 tickets: 4 in scope, 2 traced (50.0%)" in table.stdout
    assert "no-capability" in table.stdout
    markdown = run_cli("check", "--format", "markdown", cwd=tmp_path)
    assert "| `unknown-capability` | error | 1 |" in markdown.stdout
    assert "| `map-capability-without-work` | info | `portal-mobile`" in markdown.stdout
    assert "map findings (for admins)" in table.stdout

    store = Store.open(db_url)
    with store.session() as s:
        snapshots = s.scalars(select(MetricSnapshotRow).order_by(MetricSnapshotRow.id)).all()
    store.close()
    assert len(snapshots) == 2  # one per check
    overall = snapshots[-1].figures["overall"]
    assert (overall["in_scope"], overall["traced"], overall["traceability"]) == (4, 2, 0.5)
    assert set(snapshots[-1].figures["by_source"]) == {"web"}


def test_check_without_a_map_says_how_to_load_it(tmp_path: Path, db_url: str) -> None:
    write_config(tmp_path, db_url)
    store = Store.open(db_url)
    with store.session() as s:
        upsert_tickets(s, [Ticket(source="web", key="acme/web#1", title="x")], NOW)
    store.close()
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "the store holds no strategy map yet: run `bmmsync model sync`" in result.stderr
