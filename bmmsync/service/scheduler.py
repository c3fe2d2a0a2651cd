"""APScheduler wiring only: when runs happen, and how the service stops.

Every `schedule.poll_every` (with jitter) a run; coalesced, one at a time, with a misfire
grace time, so a slow run or a paused machine never piles runs up. After n failed runs in
a row the next 2^(n-1) - 1 scheduled runs are skipped (up to an hour), so a tracker that is
down for hours is not hammered. The config file is re-read before each run: a broken edit
is reported and the last good config keeps running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import tzlocal
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bmmsync.config.settings import Config, load_config
from bmmsync.errors import ConfigError
from bmmsync.service.runner import RunReport

log = logging.getLogger("bmmsync.scheduler")

MAX_BACKOFF = timedelta(hours=1)

RunFn = Callable[[Config, threading.Event], RunReport]
SnapshotFn = Callable[[Config], object]


class Service:
    """The long-running service: the scheduler, the current config, and the stop flag."""

    def __init__(
        self, config: Config, config_path: Path, run: RunFn, snapshot: SnapshotFn | None = None
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._run = run
        self._snapshot = snapshot
        self.stop = threading.Event()
        self.failures = 0
        self.skip = 0  # scheduled runs still to skip after failures
        self.scheduler = BlockingScheduler(timezone=UTC)

    def _reload(self) -> None:
        try:
            self.config = load_config(self.config_path)
        except ConfigError as exc:
            for line in exc.problems:
                log.error("config change refused, keeping the running config: %s", line)

    def tick(self) -> RunReport | None:
        """One scheduled run, unless a back-off or a stop says otherwise."""
        if self.stop.is_set():
            return None
        if self.skip > 0:
            self.skip -= 1
            log.info(
                "backing off after %d failed run(s): %d scheduled run(s) left to skip",
                self.failures,
                self.skip,
            )
            return None
        self._reload()
        report = self._run(self.config, self.stop)
        if report.result == "failed":
            self.failures += 1
            most = max(int(MAX_BACKOFF / self.config.schedule.poll_every) - 1, 0)
            self.skip = min(2 ** (self.failures - 1) - 1, most)
        elif report.result == "ok":
            self.failures = 0
        return report

    def daily_snapshot(self) -> None:
        if self._snapshot is None or self.stop.is_set():
            return
        try:
            self._snapshot(self.config)
        except Exception:  # a missed snapshot is logged; the service goes on
            log.exception("daily metrics snapshot failed")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the current write", signal.Signals(signum).name)
        self.stop.set()
        self.scheduler.shutdown(wait=False)

    def serve(self) -> None:
        """Block until SIGTERM or SIGINT; the first run starts at once."""
        schedule = self.config.schedule
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(
                seconds=schedule.poll_every.total_seconds(),
                jitter=int(schedule.jitter.total_seconds()) or None,
            ),
            id="run",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(schedule.poll_every.total_seconds() // 2), 1),
        )
        at = schedule.snapshot_at
        self.scheduler.add_job(
            self.daily_snapshot,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=tzlocal.get_localzone()),
            id="snapshot",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.scheduler.start()
