"""/metrics in the Prometheus text format, parsed with prometheus_client's own parser, and
compared with what the store holds; and the dashboard's aggregates against `report`'s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bmmsync.checking import judge_store
from bmmsync.service.runner import RunReport
from bmmsync.store.database import Store
from bmmsync.store.models import AuditRow, FlagRow, TicketRow
from bmmsync.trace.metrics import compute_metrics
from bmmsync.web.aggregates import ALL, compute_aggregates
from bmmsync.web.app import service_metrics
from tests.web.conftest import Dashboard


def _samples(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_metrics_are_parseable_and_match_the_store(dashboard: Dashboard) -> None:
    response = dashboard.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    store = Store.open(dashboard.db_url)
    with store.session() as s:
        tickets = s.scalar(select(func.count()).select_from(TicketRow))
        flagged = s.scalar(
            select(func.count()).where(
                FlagRow.flagged_at.is_not(None), FlagRow.cleared_at.is_(None)
            )
        )
        writes = s.scalar(select(func.count()).select_from(AuditRow))
    store.close()
    assert samples["bmmsync_store_up"][0].value == 1
    assert sum(s.value for s in samples["bmmsync_tickets"]) == tickets
    assert {s.labels["source"] for s in samples["bmmsync_tickets"]} == {"web", "platform"}
    assert sum(s.value for s in samples["bmmsync_flagged"]) == flagged > 0
    assert sum(s.value for s in samples["bmmsync_writes_total"]) == writes > 0
    assert 0 < samples["bmmsync_traced_ratio"][0].value < 1
    assert samples["bmmsync_last_success_timestamp_seconds"][0].value > 1.7e9
    assert "bmmsync_rate_limit_remaining" in samples
    assert "bmmsync_writes_deferred" in samples
    for name, values in samples.items():
        assert name.startswith("bmmsync_"), name
        for sample in values:
            assert "key" not in sample.labels and not any("#" in v for v in sample.labels.values())


def test_run_metrics_after_a_run(dashboard: Dashboard) -> None:
    """What only the running service sees: run durations and tracker requests."""
    from starlette.applications import Starlette

    app = dashboard.client.app
    assert isinstance(app, Starlette)
    metrics = service_metrics(app)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    report = RunReport("r1", started, finished_at=started.replace(second=42), result="ok")
    report.sync = {"sources": [{"name": "web", "ok": True, "requests": 5, "not_modified": 2}]}
    metrics.observe_run(report.as_dict())
    samples = _samples(dashboard.client.get("/metrics").text)
    assert samples["bmmsync_run_duration_seconds_sum"][0].value == 42
    assert samples["bmmsync_run_duration_seconds_count"][0].value == 1
    by_status = {s.labels["status"]: s.value for s in samples["bmmsync_tracker_requests_total"]}
    assert by_status == {"ok": 3, "not_modified": 2}


def test_store_down_metrics_say_so(dashboard: Dashboard) -> None:
    board = dashboard.client.app.state.dashboard  # type: ignore[attr-defined]
    board.store.url = "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"
    board.store.close()
    samples = _samples(dashboard.client.get("/metrics").text)
    assert samples["bmmsync_store_up"][0].value == 0
    assert dashboard.client.get("/readyz").status_code == 503
    assert dashboard.client.get("/livez").status_code == 200


def test_aggregates_agree_with_the_report_figures(dashboard: Dashboard) -> None:
    store = Store.open(dashboard.db_url)
    with store.session() as s:
        today = datetime.now(UTC).date()
        judgement = judge_store(s, dashboard.config.mapping.to_rules(), today)
    store.close()
    metrics = compute_metrics(judgement.verdicts, judgement.index, today).as_dict()
    aggregates = compute_aggregates(judgement.verdicts, judgement.tickets)
    overall = aggregates[ALL]["overall"]
    for figure in ("tickets", "in_scope", "traced", "traceability", "debt_ratio"):
        assert overall[figure] == metrics["overall"][figure], figure
    for cid, figures in metrics["by_capability"].items():
        mine = aggregates[ALL]["by_capability"][cid]
        assert (mine["in_scope"], mine["traced"]) == (figures["in_scope"], figures["traced"])
    for name, figures in metrics["by_project"].items():
        assert aggregates[f"project:{name}"]["overall"]["traced"] == figures["traced"]
    for name, figures in metrics["by_source"].items():
        assert aggregates[f"source:{name}"]["overall"]["in_scope"] == figures["in_scope"]
