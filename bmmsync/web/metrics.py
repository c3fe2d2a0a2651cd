"""Prometheus metrics, declared once here: prefix `bmmsync_`, base units, `_total` counters,
no ticket keys as labels.

Figures the store holds (tickets, traced ratio, flags, writes, rate limits, runs) are read by
a collector at scrape time from a handful of small queries and the precomputed aggregates.
What only the running process sees (tracker requests, run durations) are ordinary
instruments, fed by `ServiceMetrics.observe_run` after each run of `bmmsync run`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bmmsync.errors import StoreError
from bmmsync.store.dashboard_repo import load_aggregate, load_aggregates
from bmmsync.store.event_queue import depth
from bmmsync.store.event_queue import health as webhook_health
from bmmsync.store.models import AuditRow, FlagRow, RunRow, SourceRow
from bmmsync.web.aggregates import ALL
from bmmsync.web.storehandle import StoreHandle

RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class ServiceMetrics:
    """In-process instruments of the service; `bmmsync run` feeds them after each run."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.run_duration = Histogram(
            "bmmsync_run_duration_seconds",
            "Wall time of one sync -> check -> plan -> apply run.",
            ["result"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.tracker_requests = Counter(
            "bmmsync_tracker_requests",
            "Requests to trackers by source and outcome (ok, not_modified, failed).",
            ["source", "status"],
            registry=registry,
        )

    def observe_run(self, report: dict[str, Any]) -> None:
        """Count one finished run, given as `RunReport.as_dict()`."""
        if report.get("result") == "skipped" or not report.get("finished_at"):
            return
        started = datetime.fromisoformat(report["started_at"])
        finished = datetime.fromisoformat(report["finished_at"])
        self.run_duration.labels(report["result"]).observe((finished - started).total_seconds())
        for source in report.get("sync", {}).get("sources", []):
            requests = int(source.get("requests") or 0)
            not_modified = int(source.get("not_modified") or 0)
            name = source.get("name", "")
            self.tracker_requests.labels(name, "not_modified").inc(not_modified)
            if source.get("ok"):
                self.tracker_requests.labels(name, "ok").inc(max(0, requests - not_modified))
            else:
                self.tracker_requests.labels(name, "failed").inc(max(1, requests - not_modified))


class StoreCollector(Collector):
    """Gauges and counters read from the store at scrape time (a few indexed queries)."""

    def __init__(self, store: StoreHandle) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("bmmsync_store_up", "1 when the store answered this scrape.")
        try:
            families = list(self._from_store())
        except (StoreError, SQLAlchemyError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_store(self) -> Iterator[Metric]:
        with self.store.get().session() as session:
            tickets = GaugeMetricFamily(
                "bmmsync_tickets", "Stored tickets by source and state.", labels=["source", "state"]
            )
            for scope, aggregate in sorted(load_aggregates(session, "source:").items()):
                for state, n in aggregate.figures.get("by_state", {}).items():
                    tickets.add_metric([scope.split(":", 1)[1], state], n)
            yield tickets
            traced = GaugeMetricFamily(
                "bmmsync_traced_ratio",
                "In-scope tickets traced to a motivator / in-scope tickets, at the last check.",
                labels=["source"],
            )
            everything = load_aggregate(session, ALL)
            if everything is not None and everything.figures["overall"]["traceability"] is not None:
                traced.add_metric(["all"], everything.figures["overall"]["traceability"])
            yield traced
            flagged = GaugeMetricFamily(
                "bmmsync_flagged", "Tickets flagged by the bot now.", labels=["source"]
            )
            deferred = GaugeMetricFamily(
                "bmmsync_writes_deferred",
                "Tickets whose writes the budget deferred to a later run.",
                labels=["source"],
            )
            active = FlagRow.flagged_at.is_not(None) & FlagRow.cleared_at.is_(None)
            for source, n_flagged, n_deferred in session.execute(
                select(
                    FlagRow.source,
                    func.count().filter(active),
                    func.count().filter(FlagRow.deferred.is_(True)),
                ).group_by(FlagRow.source)
            ):
                flagged.add_metric([source], n_flagged)
                deferred.add_metric([source], n_deferred)
            yield flagged
            yield deferred
            writes = CounterMetricFamily(
                "bmmsync_writes", "Tracker writes by kind and result.", labels=["kind", "result"]
            )
            for action, status, n in session.execute(
                select(AuditRow.action, AuditRow.status, func.count()).group_by(
                    AuditRow.action, AuditRow.status
                )
            ):
                writes.add_metric([action, status], n)
            yield writes
            remaining = GaugeMetricFamily(
                "bmmsync_rate_limit_remaining",
                "Requests left in the tracker's rate-limit window, as of the last sync.",
                labels=["source"],
            )
            for name, left in session.execute(
                select(SourceRow.name, SourceRow.rate_limit_remaining)
            ):
                if left is not None:
                    remaining.add_metric([name], left)
            yield remaining
            last_ok = session.scalar(
                select(func.max(RunRow.finished_at)).where(RunRow.result == "ok")
            )
            success = GaugeMetricFamily(
                "bmmsync_last_success_timestamp_seconds",
                "When the last successful run finished (Unix time).",
            )
            if last_ok is not None:
                success.add_metric([], last_ok.timestamp())
            yield success
            queue = GaugeMetricFamily(
                "bmmsync_webhook_queue_depth", "Webhook events not yet processed (all instances)."
            )
            queue.add_metric([], depth(session))
            yield queue
            refused = CounterMetricFamily(
                "bmmsync_webhook_refusals",
                "Webhook deliveries refused or ignored, by tracker and cause.",
                labels=["tracker", "cause"],
            )
            for health in webhook_health(session, ["github", "jira"]):
                for cause, n in health.refusals.items():
                    refused.add_metric([health.tracker, cause], n)
            yield refused


def metrics_registry(store: StoreHandle) -> tuple[CollectorRegistry, ServiceMetrics]:
    """A registry of our own (not the global one), so several apps in one process never clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry, ServiceMetrics(registry)
