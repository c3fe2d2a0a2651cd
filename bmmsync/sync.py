"""The sync service: every configured source into the store, page by page.

Each page's tickets and the cursor that covers them are written in one transaction, so a
crash between pages re-reads from the last stored page and never skips or loses a ticket.
A full reconciliation (asked for, or due per `schedule.full_sync_every`, or the first sync
of a source) re-reads everything and marks what the tracker no longer shows as gone, so no
ghosts remain. A failing source is reported with its name; the others still sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from bmmsync.config.secrets import mask
from bmmsync.config.settings import Config, GitHubSource, JiraSource
from bmmsync.errors import BmmsyncError, ConfigError
from bmmsync.store import ticket_repo
from bmmsync.store.database import Store
from bmmsync.store.source_repo import last_full_sync, record_sync
from connectors.base import (
    LOST,
    Connector,
    ConnectorOptions,
    Cursor,
    Listing,
    ListsStreams,
    Sleep,
    StreamLost,
)
from connectors.registry import connector_for

log = logging.getLogger(__name__)

LOST_ROW = ticket_repo.Cursor(LOST.value, LOST.etag)

SourceConfig = GitHubSource | JiraSource
ConnectorFactory = Callable[[SourceConfig, ConnectorOptions], Connector]


@dataclass
class SourceSummary:
    """What one source's sync did; `error` is set (one line, masked) when it failed."""

    name: str
    kind: str
    full: bool = False
    error: str | None = None
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0
    requests: int = 0
    not_modified: int = 0
    rate_limit_left: int | None = None
    seconds: float = 0.0
    lost: list[str] = field(default_factory=list)  # projects no longer reachable, tickets kept
    # Keys stored as new or changed, or marked gone (an incremental check judges them again);
    # not part of the report.
    touched: set[str] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "touched"}
        return {**out, "lost": list(self.lost), "ok": self.ok}


@dataclass
class SyncReport:
    sources: list[SourceSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources)

    def touched(self) -> set[tuple[str, str]]:
        """(source, key) of every ticket this sync stored as new or changed, or marked gone."""
        return {(s.name, key) for s in self.sources for key in s.touched}

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "sources": [s.as_dict() for s in self.sources]}


class SyncProgress(Protocol):
    """Told as each source starts, stores a page, and ends (the CLI draws bars from it)."""

    def started(self, source: str) -> None: ...

    def advanced(self, source: str, fetched: int) -> None: ...

    def finished(self, summary: SourceSummary) -> None: ...


def connector_options(
    config: Config, *, sleep: Sleep = time.sleep, timeout: float = 30.0
) -> ConnectorOptions:
    """The run-wide connector settings a config implies (shared by sync and the bot)."""
    return ConnectorOptions(
        overlap_seconds=config.sync.overlap.total_seconds(),
        page_size=config.sync.page_size,
        write_interval=config.flagging.write_interval,
        capability_field=config.mapping.capability_field,
        timeout=timeout,
        sleep=sleep,
    )


def sync_sources(
    config: Config,
    store: Store,
    *,
    source: str | None = None,
    full: bool = False,
    progress: SyncProgress | None = None,
    sleep: Sleep = time.sleep,
    timeout: float = 30.0,
    factory: ConnectorFactory = connector_for,
) -> SyncReport:
    """Sync every configured source (or the one named); never raises for a failing source.

    `sleep` and `timeout` are for tests (waits for rate limits and back-off; HTTP timeout).
    Raises `ConfigError` only when `source` names no configured source.
    """
    chosen = list(config.sources)
    if source is not None:
        chosen = [s for s in chosen if s.name == source]
        if not chosen:
            known = ", ".join(s.name for s in config.sources) or "none"
            raise ConfigError([f"no source named {source!r} in the config (known: {known})"])
    options = connector_options(config, sleep=sleep, timeout=timeout)
    report = SyncReport()
    for src in chosen:
        if progress:
            progress.started(src.name)
        summary = _sync_source(config, store, src, options, full, progress, factory)
        report.sources.append(summary)
        if progress:
            progress.finished(summary)
    return report


def _now() -> datetime:
    return datetime.now(UTC)


def _sync_source(
    config: Config,
    store: Store,
    src: SourceConfig,
    options: ConnectorOptions,
    full_asked: bool,
    progress: SyncProgress | None,
    factory: ConnectorFactory,
) -> SourceSummary:
    started = time.perf_counter()
    summary = SourceSummary(src.name, src.kind)
    connector: Connector | None = None
    errors: list[str] = []
    seen: set[str] = set()
    with store.session() as session:
        last_full = last_full_sync(session, src.name)
    due = last_full is None or _now() - last_full >= config.schedule.full_sync_every
    summary.full = full_asked or due
    try:
        connector = factory(src, options)
        for stream in connector.streams():
            try:
                listing = _listing(store, connector, stream)
                if listing is None:
                    _sync_stream(store, connector, stream, summary, seen, progress)
                else:
                    _sync_listed(store, connector, stream, listing, summary, seen, progress, errors)
            except Exception as exc:  # one listing failing must not stop the others
                errors.append(_describe(src.name, exc))
    except Exception as exc:  # a connector that cannot even start fails only its source
        errors.append(_describe(src.name, exc))
    if connector is not None:
        summary.requests = connector.stats.requests
        summary.not_modified = connector.stats.not_modified
        summary.rate_limit_left = connector.stats.rate_limit_left
    summary.error = "; ".join(errors) or None
    now = _now()
    with store.session() as session:
        if summary.full and summary.ok:
            kept = ticket_repo.stored_keys(session, src.name, projects=summary.lost)
            gone = ticket_repo.stored_keys(session, src.name) - seen - kept
            summary.gone = ticket_repo.mark_gone(session, src.name, gone, now)
            summary.touched.update(gone)
        record_sync(
            session,
            name=src.name,
            kind=src.kind,
            now=now,
            error=summary.error,
            rate_limit_remaining=summary.rate_limit_left,
            full=summary.full,
        )
    summary.seconds = round(time.perf_counter() - started, 3)
    log.log(
        logging.INFO if summary.ok else logging.ERROR,
        "source synced" if summary.ok else "source failed",
        extra={k: v for k, v in summary.as_dict().items() if k != "name"} | {"source": src.name},
    )
    return summary


def _sync_stream(
    store: Store,
    connector: Connector,
    stream: str,
    summary: SourceSummary,
    seen: set[str],
    progress: SyncProgress | None,
) -> None:
    """One listing: each page and its cursor in one transaction."""
    with store.session() as session:
        stored = ticket_repo.get_cursor(session, connector.name, stream)
    cursor = Cursor() if stored == LOST_ROW else Cursor(stored.value, stored.etag)
    for page in connector.read(stream, cursor, full=summary.full):
        now = _now()
        with store.session() as session:
            counts = ticket_repo.upsert_tickets(session, page.tickets, now)
            if page.cursor != cursor:
                ticket_repo.save_cursor(
                    session,
                    connector.name,
                    stream,
                    ticket_repo.Cursor(page.cursor.value, page.cursor.etag),
                    now,
                )
        cursor = page.cursor
        summary.fetched += len(page.tickets)
        summary.new += counts.new
        summary.changed += counts.changed
        summary.unchanged += counts.unchanged
        summary.touched.update(key for _source, key in counts.touched)
        seen.update(t.key for t in page.tickets)
        if progress:
            progress.advanced(connector.name, len(page.tickets))


def _listing(store: Store, connector: Connector, stream: str) -> Listing | None:
    """What `stream` lists, when it is a listing (an org's repositories); None otherwise."""
    if not isinstance(connector, ListsStreams):
        return None
    with store.session() as session:
        rows = ticket_repo.cursors(session, connector.name)
    known = {name: Cursor(row.value, row.etag) for name, row in rows.items()}
    return connector.listing(stream, known.get(stream, Cursor()), known)


def _sync_listed(
    store: Store,
    connector: Connector,
    stream: str,
    listing: Listing,
    summary: SourceSummary,
    seen: set[str],
    progress: SyncProgress | None,
    errors: list[str],
) -> None:
    """Every stream a listing names; lost ones are marked and reported, their tickets kept.

    The listing's cursor (its ETag) is saved last, and without the ETag when a stream
    failed, so the next run lists again rather than trusting a 304 over unread streams."""
    lost = dict(listing.lost)
    failed = False
    for child in listing.poll:
        try:
            _sync_stream(store, connector, child, summary, seen, progress)
        except StreamLost as exc:
            lost[child] = exc.project
        except Exception as exc:  # one repository failing must not stop the others
            errors.append(_describe(connector.name, exc))
            failed = True
    now = _now()
    with store.session() as session:
        for child, project in sorted(lost.items()):
            if ticket_repo.get_cursor(session, connector.name, child) != LOST_ROW:
                log.warning(
                    "no longer reachable; its tickets are kept",
                    extra={"source": connector.name, "project": project},
                )
            ticket_repo.save_cursor(session, connector.name, child, LOST_ROW, now)
        cursor = Cursor(listing.cursor.value, None) if failed else listing.cursor
        ticket_repo.save_cursor(
            session, connector.name, stream, ticket_repo.Cursor(cursor.value, cursor.etag), now
        )
    summary.lost.extend(sorted(set(lost.values())))


def _describe(source: str, exc: Exception) -> str:
    if isinstance(exc, BmmsyncError):
        text = str(exc)
    else:
        log.exception("unexpected failure", extra={"source": source})
        text = f"source {source!r}: {type(exc).__name__}: {exc}"
    return mask(" ".join(text.split()))
