"""The worker that drains the webhook queue, in the `run` process.

Per batch: claim events, read each affected ticket fresh with one GET (payloads may be stale
or out of order: the tracker is the truth), upsert it, re-judge it and its descendants
(`checking.recheck`), plan only those and apply within the budget, under the run lease.

bmmsync's own writes come back as deliveries. A flag-label change that the store already
shows (the executor mirrors each write) is recognised without a GET; anything else costs one
GET and finds nothing to do, because the plan is built from the fresh ticket and the flag
memory. Either way an echo costs no write, so it cannot loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bmmsync.bot.flagging import execute, prepare
from bmmsync.checking import recheck_judgement
from bmmsync.config.settings import Config
from bmmsync.domain import Ticket
from bmmsync.errors import BmmsyncError
from bmmsync.service.lease import RunLease
from bmmsync.service.runner import take_run_lease
from bmmsync.store import ticket_repo
from bmmsync.store.database import Store
from bmmsync.store.event_queue import QueuedEvent, claim, complete, count_refusal, retry_later
from bmmsync.store.map_repo import load_model, map_version
from bmmsync.store.models import TicketRow, WebhookEventRow
from bmmsync.sync import connector_options
from bmmsync.trace.index import MapIndex
from connectors.base import ChecksScope, Connector, HintsComments
from connectors.registry import ConnectorFactory, connector_for

log = logging.getLogger("bmmsync.hooks")

CLAIM_TTL = timedelta(seconds=60)
"""Longer than a batch takes; a worker killed mid-batch frees its events after this."""
IDLE_WAIT = 2.0
"""Seconds between looks at the queue when no delivery woke the worker (deliveries taken by
another instance, events whose back-off ended)."""


@dataclass
class DrainReport:
    """What one batch did (logged; tests assert on it)."""

    events: int = 0
    echoes: int = 0
    fetched: int = 0
    gone: int = 0
    unwatched: int = 0
    retried: int = 0
    writes: int = 0
    failed_writes: int = 0
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


def webhooks_on(config: Config) -> bool:
    """A webhook secret is set: deliveries may arrive (here or at another instance)."""
    return config.webhooks.github_secret is not None or config.webhooks.jira_secret is not None


def _has(labels: Iterable[str], label: str) -> bool:
    return label.casefold() in {x.casefold() for x in labels}


def _ours(config: Config) -> set[str]:
    labels = {config.flagging.label.casefold()}
    if config.flagging.escalation is not None and config.flagging.escalation.label:
        labels.add(config.flagging.escalation.label.casefold())
    return labels


def is_echo(event: QueuedEvent, stored: Ticket | None, ours: set[str]) -> bool:
    """True when the delivery only reports a change to bmmsync's own labels (or comments)
    that the store already shows: nothing to read, nothing to write."""
    detail = event.detail
    if detail.get("comment_only"):
        return True
    if stored is None:
        return False
    if "label" in detail and "added" in detail and "project" not in detail:
        return str(detail["label"]).casefold() in ours and _has(
            stored.labels, str(detail["label"])
        ) == bool(detail["added"])
    if "labels_to" in detail:
        before = {x.casefold() for x in detail.get("labels_from", [])}
        after = {x.casefold() for x in detail["labels_to"]}
        return (before ^ after) <= ours and {x.casefold() for x in stored.labels} == after
    return False


def _renamed_label_keys(store: Store, source: str, project: str, label: str) -> list[str]:
    """Stored tickets of `project` that carried a label now renamed or deleted."""
    wanted = label.casefold()
    with store.session() as session:
        rows = session.execute(
            select(TicketRow.key, TicketRow.labels).where(
                TicketRow.source == source, TicketRow.project == project
            )
        )
        return [key for key, labels in rows if _has(labels or [], wanted)]


class WritesPending(BmmsyncError):
    """Some writes of a batch were not made (refused, or the lease was lost)."""


class Worker:
    """Drains the queue batch by batch; `serve()` runs it in a thread until `stop` is set."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        holder: str | None = None,
        *,
        factory: ConnectorFactory = connector_for,
        writer: threading.Lock | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.factory = factory
        self.writer = writer or threading.Lock()
        self.wake = threading.Event()
        self._connectors: dict[str, tuple[Any, Connector]] = {}
        self._map: tuple[tuple[Any, ...], MapIndex] | None = None

    def connector(self, config: Config, name: str) -> Connector:
        """One connector per source, kept across batches (Jira's field ids are read once)."""
        src = config.source(name)
        cached = self._connectors.get(name)
        if cached is None or cached[0] != src:
            cached = (src, self.factory(src, connector_options(config)))
            self._connectors[name] = cached
        return cached[1]

    def stored_map(self, session: Session) -> MapIndex:
        """The stored map, decoded again only when `map_version` changes (a run synced an
        edited map): decoding it for each batch was a tenth of the batch's CPU."""
        version = map_version(session)
        if self._map is None or self._map[0] != version:
            self._map = (version, MapIndex(load_model(session)))
        return self._map[1]

    def has_due(self, now: datetime) -> bool:
        with self.store.session() as session:
            return (
                session.scalar(
                    select(WebhookEventRow.id)
                    .where(WebhookEventRow.done_at.is_(None), WebhookEventRow.not_before <= now)
                    .limit(1)
                )
                is not None
            )

    def drain_once(self, *, now: datetime | None = None, limit: int = 100) -> DrainReport:
        """One batch under the run lease (skipped when another instance holds it)."""
        now = now or datetime.now(UTC)
        report = DrainReport()
        if not self.has_due(now):
            return report
        config = self.config()
        with self.writer:
            lease = take_run_lease(config, self.store)
            if isinstance(lease, str):
                report.skipped = lease
                return report
            with lease:
                self._batch(config, lease, now, limit, report)
        return report

    def _batch(
        self, config: Config, lease: RunLease, now: datetime, limit: int, report: DrainReport
    ) -> None:
        with self.store.session() as session:
            batch = claim(session, self.holder, now, CLAIM_TTL, limit)
        report.events = len(batch.events)
        if not batch.events:
            return
        for _, conn in self._connectors.values():  # another process may have commented since
            if isinstance(conn, HintsComments):
                conn.comment_hints.forget()
        ours = _ours(config)
        by_source: dict[str, list[QueuedEvent]] = {}
        for event in batch.events:
            by_source.setdefault(event.source, []).append(event)
        changed: list[tuple[str, str]] = []
        refreshed: list[int] = []
        known = {s.name for s in config.sources}
        for source, events in by_source.items():
            ids = [e.id for e in events]
            if source not in known:  # the source left the config: nothing to do for them
                log.info("webhook events for unknown source %s dropped", source)
                refreshed += ids
                continue
            try:
                changed += self._refresh(config, source, events, ours, now, report)
            except Exception as exc:
                self._retry(ids, batch.token, f"source {source}", exc, now, report)
                continue
            refreshed += ids
        try:
            if changed:
                self._apply(config, lease, changed, report)
        except Exception as exc:  # events are done only once their writes are
            self._retry(refreshed, batch.token, "apply", exc, now, report)
            return
        with self.store.session() as session:
            complete(session, refreshed, batch.token, datetime.now(UTC))

    def _retry(
        self,
        ids: list[int],
        token: str,
        what: str,
        exc: Exception,
        now: datetime,
        report: DrainReport,
    ) -> None:
        report.retried += len(ids)
        report.errors.append(f"{what}: {type(exc).__name__}: {exc}")
        with self.store.session() as session:
            retry_later(session, ids, token, report.errors[-1], now)
        log.warning("webhook events retried later: %s", report.errors[-1])

    def _refresh(
        self,
        config: Config,
        source: str,
        events: list[QueuedEvent],
        ours: set[str],
        now: datetime,
        report: DrainReport,
    ) -> list[tuple[str, str]]:
        """Read each affected ticket once, fresh; store it (or mark it gone). A ticket the
        store does not know is first checked against the source's query: a delivery may name
        one the source does not cover, which is ignored (counted as `unwatched`), never
        stored or flagged."""
        keys: set[str] = set()
        with self.store.session() as session:
            stored = {
                t.key: t
                for t in ticket_repo.tickets_by_id(
                    session, {(source, k) for e in events for k in e.keys}
                )
            }
        for event in events:
            if "project" in event.detail:
                keys.update(
                    _renamed_label_keys(
                        self.store, source, event.detail["project"], event.detail["label"]
                    )
                )
            elif all(is_echo(event, stored.get(k), ours) for k in event.keys):
                report.echoes += 1
            else:
                keys.update(event.keys)
        if not keys:
            return []
        conn = self.connector(config, source)
        unwatched = {
            key
            for key in keys
            if key not in stored and isinstance(conn, ChecksScope) and not conn.watches(key)
        }
        keys -= unwatched
        fresh: list[Ticket] = []
        gone: list[str] = []
        for key in sorted(keys):
            ticket = conn.fetch(key)
            report.fetched += 1
            if ticket is None:
                gone.append(key)
            else:
                fresh.append(ticket)
        with self.store.session() as session:
            ticket_repo.upsert_tickets(session, fresh, now)
            report.gone += ticket_repo.mark_gone(session, source, gone, now)
            for _ in unwatched:
                count_refusal(session, config.source(source).kind, "unwatched", now)
        report.unwatched += len(unwatched)
        return [(source, key) for key in sorted(keys)]

    def _apply(
        self, config: Config, lease: RunLease, changed: list[tuple[str, str]], report: DrainReport
    ) -> None:
        now = datetime.now(UTC)
        with self.store.session() as session:
            rules, index = config.mapping.to_rules(), self.stored_map(session)
            judgement = recheck_judgement(session, rules, now.date(), changed, now, index=index)
        prepared = prepare(
            config,
            self.store,
            now=now,
            judgement=judgement,
            factory=lambda src, _options: self.connector(config, src.name),
            sleep=lease.sleep,
        )
        stats = execute(
            prepared,
            self.store,
            label=config.flagging.label,
            fence=lease,
            run_id=f"hook-{uuid.uuid4().hex[:8]}",
        )
        report.writes += stats.done
        report.failed_writes += stats.failed
        if stats.lost_lease or stats.failed:  # the events come back after a back-off
            raise WritesPending("; ".join(stats.errors) or "writes failed")

    def serve(self, stop: threading.Event) -> None:
        """Drain until `stop`: at once when a delivery arrives here, else every `IDLE_WAIT`."""
        while not stop.is_set():
            try:
                while not stop.is_set():
                    report = self.drain_once()
                    if report.events:
                        log.info("webhook batch: %s", report)
                    if not report.events or report.skipped:
                        break
            except Exception:  # the store or a tracker is down: events stay queued
                log.exception("webhook worker batch failed; events stay queued")
            self.wake.wait(IDLE_WAIT)
            self.wake.clear()
