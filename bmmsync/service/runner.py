"""One run of the product: sync -> check -> plan -> apply, under the run lease (service/lease).

Used by `bmmsync run` (on a schedule or `--once`), by `bmmsync demo`, and by tests. A run
never raises for a failing source or write: it ends in a `RunReport` whose `result` says
how it went, recorded in the `runs` table for `bmmsync status`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bmmsync.checking import Judgement, check_store, judge_store, store_snapshot, summarise
from bmmsync.config.settings import Config
from bmmsync.errors import BmmsyncError, LeaseLost
from bmmsync.service.check_scope import (
    FULL,
    CheckScope,
    choose_scope,
    incremental_judgement,
    rules_digest,
)
from bmmsync.service.lease import RunLease
from bmmsync.store.database import Store
from bmmsync.store.map_repo import load_model, sync_model
from bmmsync.store.models import RunRow
from bmmsync.store.upsert import bulk_upsert
from bmmsync.sync import sync_sources
from bmmsync.trace.incremental import links_miss_map_change
from bmmsync.trace.index import MapIndex

log = logging.getLogger("bmmsync.service")

LOST_LEASE = "lost-lease"


def config_digest(config: Config) -> str:
    """Identifies a configuration, so two instances with different configs are told apart."""
    text = config.path.read_bytes() if config.path else config.model_dump_json().encode()
    return hashlib.sha256(text).hexdigest()[:16]


class LeaseConflict(BmmsyncError):
    """Another instance with a *different* configuration holds this store."""

    exit_code = 2


@dataclass
class RunReport:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    result: str = "running"  # ok | failed | skipped | lost-lease
    skipped_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    sync: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    flagging: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "result": self.result,
            "skipped_reason": self.skipped_reason,
            "sync": self.sync,
            "check": self.check,
            "flagging": self.flagging,
            "errors": self.errors,
            "notes": self.notes,
        }

    def summary_line(self) -> str:
        if self.result == "skipped":
            return f"run {self.run_id} skipped: {self.skipped_reason}"
        seconds = (self.finished_at - self.started_at).total_seconds() if self.finished_at else 0.0
        parts = [f"run {self.run_id} {self.result} in {seconds:.1f}s"]
        if self.sync:
            parts.append(
                "synced "
                + ", ".join(
                    f"{s['name']}={'ok' if s.get('ok') else 'failed'}"
                    for s in self.sync.get("sources", [])
                )
            )
        if self.check.get("kind") == "incremental":
            parts.append(f"incremental check of {self.check.get('judged', 0)} ticket(s)")
        elif self.check:
            parts.append(
                f"full check: {self.check.get('in_scope', 0)} in scope, "
                f"{self.check.get('traced', 0)} traced"
            )
        if self.flagging:
            parts.append(
                "writes planned={planned} done={done} deferred={deferred}".format(
                    planned=self.flagging.get("planned", 0),
                    done=self.flagging.get("done", 0),
                    deferred=self.flagging.get("deferred", 0),
                )
            )
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return "; ".join(parts)


def _now() -> datetime:
    return datetime.now(UTC)


def _save_run(store: Store, report: RunReport, holder: str) -> None:
    with store.session() as session:
        bulk_upsert(
            session,
            RunRow,
            [
                {
                    "id": report.run_id,
                    "started_at": report.started_at,
                    "finished_at": report.finished_at,
                    "holder": holder,
                    "result": report.result,
                    "summary": report.as_dict(),
                }
            ],
        )


def take_run_lease(config: Config, store: Store) -> RunLease | str:
    """The run lease with its heartbeat running, or why not (another instance holds it).

    Raises `LeaseConflict` when the holder runs a different configuration."""
    digest = config_digest(config)
    lease = RunLease(store, digest)
    other = lease.acquire()
    if other is None:
        return lease
    if other.config_digest != digest:
        raise LeaseConflict(
            f"another bmmsync instance ({other.holder}) with a different configuration "
            f"holds this store until {other.expires_at:%Y-%m-%d %H:%M:%S} UTC; "
            "point store.url elsewhere or stop the other instance"
        )
    return f"another instance ({other.holder}) holds the run lease"


# The flagging step gets the run's judgement, so the store is judged once per run, and the
# run's lease, which fences each tracker write.
Step = Callable[[Config, Store, RunReport, Judgement, RunLease], None]


def run_once(
    config: Config,
    store: Store,
    *,
    apply_writes: Step | None = None,
    stop: threading.Event | None = None,
    full: bool = False,
    incremental: bool = False,
    sleep: Callable[[float], None] | None = None,
    notes: Sequence[str] = (),
) -> RunReport:
    """sync -> check -> (plan -> apply) once, if the run lease is ours.

    `full` re-reads every source and checks the whole store. `incremental` lets the run
    judge and plan only what can have changed when the store shows that suffices
    (`service.check_scope`); otherwise (the default) it checks the whole store.

    Returns a skipped report when another instance with the same configuration holds the
    lease; raises `LeaseConflict` when the holder runs a different configuration. A run that
    loses the lease midway stops before its next tracker write and ends `lost-lease`.
    `apply_writes` is the flagging step (None: sync and check only); `sleep` replaces the
    lease's waits (tests); `notes` are kept with the run for `bmmsync status`.
    """
    report = RunReport(run_id=uuid.uuid4().hex[:12], started_at=_now(), notes=list(notes))
    try:
        lease = take_run_lease(config, store)
    except SQLAlchemyError as exc:  # the database is down: this run fails, the next may not
        report.result = "failed"
        report.finished_at = _now()
        report.errors.append(f"store unavailable: {str(exc).splitlines()[0]}")
        log.error(report.summary_line())
        return report
    if isinstance(lease, str):
        report.result = "skipped"
        report.skipped_reason = lease
        log.info(report.summary_line())
        return report
    with lease:
        _run_under(
            lease,
            config,
            store,
            report,
            apply_writes,
            stop,
            full,
            incremental and not full,
            sleep or lease.sleep,
        )
    log.info(report.summary_line())
    return report


def _run_under(
    lease: RunLease,
    config: Config,
    store: Store,
    report: RunReport,
    apply_writes: Step | None,
    stop: threading.Event | None,
    full: bool,
    incremental: bool,
    sleep: Callable[[float], None],
) -> None:
    _save_run(store, report, lease.holder)
    try:
        model = config.load_model()
        rules = config.mapping.to_rules()
        with store.session() as session:
            before = load_model(session)
            changes = sync_model(session, model, report.started_at)
        if not changes.unchanged:
            log.info("model changed: %s", changes.as_dict())
        sync_report = sync_sources(config, store, full=full, sleep=sleep)
        report.sync = sync_report.as_dict()
        report.errors += [f"source {s.name}: {s.error}" for s in sync_report.sources if not s.ok]
        if stop is None or not stop.is_set():
            now = _now()
            scope = CheckScope(FULL, "the first run of the process, --once or --full")
            with store.session() as session:
                if incremental:
                    unbounded = not changes.unchanged and links_miss_map_change(
                        MapIndex(before), MapIndex(model), rules
                    )
                    scope = choose_scope(
                        session, config, report.run_id, now, map_unbounded=unbounded
                    )
                if scope.kind == FULL or scope.since is None:
                    judgement = check_store(
                        session, rules, now.date(), now, config.outcomes.size_rule()
                    )
                    report.check = summarise(judgement)
                else:
                    judgement = incremental_judgement(
                        session, config, now, scope.since, before, sync_report.touched()
                    )
            report.check |= {
                "kind": scope.kind,
                "why": scope.why,
                "judged": len(judgement.verdicts),
                "today": now.date().isoformat(),
                "rules": rules_digest(config),
                "settled": False,
            }
            log.info("%s check (%s): %d judged", scope.kind, scope.why, len(judgement.verdicts))
            if apply_writes is not None and (stop is None or not stop.is_set()):
                apply_writes(config, store, report, judgement, lease)
            # The next run may judge less only if this one planned and recorded everything.
            report.check["settled"] = bool(report.flagging) and not report.flagging.get(
                "unavailable"
            )
        if lease.lost.is_set():
            raise LeaseLost("the run lease was lost: the run stopped before its next write")
        report.result = "failed" if report.errors else "ok"
    except LeaseLost as exc:
        report.result = LOST_LEASE
        report.errors.append(str(exc))
        log.error("run %s stopped: %s", report.run_id, exc)
    except (BmmsyncError, SQLAlchemyError) as exc:
        report.result = "failed"
        report.errors.append(str(exc).splitlines()[0])
        log.error("run %s failed: %s", report.run_id, report.errors[-1])
    finally:
        report.finished_at = _now()
        try:
            _save_run(store, report, lease.holder)
        except SQLAlchemyError as exc:  # the database went away: the lease simply expires
            log.error("could not record run %s: %s", report.run_id, exc)


def take_snapshot(config: Config, store: Store) -> dict[str, Any]:
    """The daily metrics snapshot (`bmmsync report` draws its trends from these). It writes
    to the store only, so it needs no run lease."""
    now = _now()
    with store.session() as session:
        judgement = judge_store(session, config.mapping.to_rules(), now.date())
        return store_snapshot(session, judgement, now)
