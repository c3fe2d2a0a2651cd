"""SQLAlchemy 2 typed models: the map, the tickets, what the bot did, and what we measured.

Lists (aliases, labels, references) are JSON columns: they are read whole with their row and
never joined on, which keeps bulk upserts to one statement per batch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic autogenerate and batch mode never see spurious drift.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Stamp(TypeDecorator[datetime]):
    """A UTC instant. SQLite keeps no offset, so values are normalised to UTC on the way in
    and made aware again on the way out; both dialects then behave the same."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MotivatorRow(Base):
    __tablename__ = "motivators"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    targets: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    review_by: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(Stamp())


class AssessmentRow(Base):
    __tablename__ = "assessments"

    motivator: Mapped[str] = mapped_column(
        ForeignKey("motivators.id", ondelete="CASCADE"), primary_key=True
    )
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    statement: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    motivators: Mapped[list[str]] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(Stamp())


class CapabilityRow(Base):
    __tablename__ = "capabilities"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    aliases: Mapped[list[str]] = mapped_column(Json, default=list)
    decisions: Mapped[list[str]] = mapped_column(Json, default=list)
    parent: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(Stamp())


class ActionRow(Base):
    __tablename__ = "actions"

    capability: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str] = mapped_column(String(1000), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="active")


class ResourceRow(Base):
    __tablename__ = "resources"

    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), default="")
    actions: Mapped[list[str]] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")


class SourceRow(Base):
    """A configured tracker source and how its last sync went. Never holds a secret."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    last_sync_at: Mapped[datetime | None] = mapped_column(Stamp())
    last_result: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(Stamp())
    rate_limit_remaining: Mapped[int | None] = mapped_column(Integer)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_parent", "source", "parent_key"),
        Index("ix_tickets_key", "key"),
    )

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100), default="open")
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[list[str]] = mapped_column(Json, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    parent_key: Mapped[str | None] = mapped_column(String(300))
    assignee: Mapped[str | None] = mapped_column(String(200))
    project: Mapped[str] = mapped_column(String(200), default="")
    story_points: Mapped[float | None] = mapped_column(Float)
    created: Mapped[datetime | None] = mapped_column(Stamp())
    updated: Mapped[datetime | None] = mapped_column(Stamp())
    is_pull_request: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(Stamp())
    synced_at: Mapped[datetime] = mapped_column(Stamp())
    # Set by a full reconciliation when the tracker no longer shows the ticket in scope.
    gone_at: Mapped[datetime | None] = mapped_column(Stamp())


class TraceLinkRow(Base):
    __tablename__ = "trace_links"
    # a capability's work in page order (migration 0010)
    __table_args__ = (Index("ix_trace_links_capability", "capability", "source", "key"),)

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    capability: Mapped[str] = mapped_column(String(200), primary_key=True)
    via: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(300))


class ProblemRow(Base):
    """One distinct problem (a verdict's findings), stored once and shared by every ticket
    that has it: at a million tickets most broken ones repeat a few thousand texts."""

    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    suggestion: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)


SORT_TITLE_CHARS = 200
"""How much of a title `VerdictRow.sort_title` keeps: enough to order by, small in an index."""


class VerdictRow(Base):
    """The latest judgement of each ticket that is out of scope or has findings, written by
    `check` in bulk. A stored ticket without a row is in scope and traced: that is most of
    a backlog, so the full check writes only the exceptions (`bmmsync.store.verdict_repo`)."""

    __tablename__ = "verdicts"
    __table_args__ = (
        Index("ix_verdicts_reason", "reason"),
        # /review's broken rows in its default order, one page at a time (no sort of them all)
        Index("ix_verdicts_review", "in_scope", "traced", "reason", "source", "key"),
        # ... and in its other orders, on the sort keys copied onto the row (migration 0009)
        Index("ix_verdicts_review_title", "in_scope", "traced", "sort_title", "source", "key"),
        Index("ix_verdicts_review_project", "in_scope", "traced", "source", "project", "key"),
        Index("ix_verdicts_review_flagged", "in_scope", "traced", "flagged_since", "source", "key"),
    )

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    in_scope: Mapped[bool] = mapped_column(Boolean)
    scope_reason: Mapped[str | None] = mapped_column(String(50))
    traced: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(50))
    problem_id: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(Stamp())
    # /review's sort keys, copied here so each order walks an index of this table: the
    # ticket's title (first SORT_TITLE_CHARS characters) and project when checked, and the
    # start of its active flag (None when not flagged), kept by `flag_repo.save_flags`.
    sort_title: Mapped[str | None] = mapped_column(String(200))
    project: Mapped[str | None] = mapped_column(String(200))
    flagged_since: Mapped[datetime | None] = mapped_column(Stamp())


class FlagRow(Base):
    """What the bot has done on one ticket: the memory that keeps it to one comment, ever."""

    __tablename__ = "flags"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime] = mapped_column(Stamp())
    last_seen: Mapped[datetime] = mapped_column(Stamp())
    flagged_at: Mapped[datetime | None] = mapped_column(Stamp())
    label_added: Mapped[bool] = mapped_column(Boolean, default=False)
    comment_id: Mapped[str | None] = mapped_column(String(100))
    comment_digest: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None] = mapped_column(Stamp())
    escalated_at: Mapped[datetime | None] = mapped_column(Stamp())
    deferred: Mapped[bool] = mapped_column(Boolean, default=False)


class SyncCursorRow(Base):
    """Where incremental polling resumes, per source and listing (repo, org or JQL)."""

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(100))
    etag: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(Stamp())


class AuditRow(Base):
    """Every write to a tracker: the intent before it, the outcome after it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ticket", "source", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Stamp())
    run_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(Text, default="")
    response_id: Mapped[str | None] = mapped_column(String(100))


class MeasurementRow(Base):
    """A key result's value on a date (`bmmsync model measure`); one per metric and day."""

    __tablename__ = "measurements"

    motivator: Mapped[str] = mapped_column(String(200), primary_key=True)
    metric: Mapped[str] = mapped_column(String(300), primary_key=True)
    at: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(Stamp())


class MetricSnapshotRow(Base):
    __tablename__ = "metric_snapshots"
    __table_args__ = (Index("ix_metric_snapshots_taken_at", "taken_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(Stamp())
    figures: Mapped[dict[str, Any]] = mapped_column(Json)


class RunRow(Base):
    """One run of sync -> check -> plan -> apply, for `bmmsync status`."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(Stamp())
    finished_at: Mapped[datetime | None] = mapped_column(Stamp())
    holder: Mapped[str] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(20))
    summary: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class LeaseRow(Base):
    """A named lease with expiry: one writer across instances.

    `token` is the fencing token, bumped at each acquisition; `host`, `pid` and
    `process_start` identify the holding process, so a dead holder on this host is taken over
    at once."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    config_digest: Mapped[str] = mapped_column(String(64), default="")
    acquired_at: Mapped[datetime] = mapped_column(Stamp())
    expires_at: Mapped[datetime] = mapped_column(Stamp())
    token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    host: Mapped[str] = mapped_column(String(200), default="", server_default="")
    pid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    process_start: Mapped[str] = mapped_column(String(40), default="", server_default="")


class WebhookEventRow(Base):
    """A tracker delivery waiting for the worker: the durable queue behind /hooks/*.

    One row per delivery id (dedupe); `claimed_until` makes a claim expire, so a worker
    killed mid-batch leaves its events to the next one; `not_before` holds the back-off."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("uq_webhook_events_delivery", "tracker", "delivery_id", unique=True),
        Index("ix_webhook_events_pending", "done_at", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tracker: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100))
    keys: Mapped[list[str]] = mapped_column(Json, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    received_at: Mapped[datetime] = mapped_column(Stamp())
    not_before: Mapped[datetime] = mapped_column(Stamp())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(Stamp())
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(Stamp())


class WebhookRefusalRow(Base):
    """Deliveries refused or ignored, counted by tracker and cause (`bmmsync webhooks check`
    reads it; any instance may have received them, so the count lives in the store)."""

    __tablename__ = "webhook_refusals"

    tracker: Mapped[str] = mapped_column(String(20), primary_key=True)
    cause: Mapped[str] = mapped_column(String(50), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(Stamp())


class DashboardAggregateRow(Base):
    """Figures per scope (all, a source, a project) written by each full check, so the
    dashboard's pages read a few rows instead of judging a million tickets per request."""

    __tablename__ = "dashboard_aggregates"

    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(Stamp())
    figures: Mapped[dict[str, Any]] = mapped_column(Json)
