"""APScheduler wiring only: when runs happen, and how the service stops.

Every `schedule.poll_every` (with jitter) a run; coalesced, one at a time, with a misfire
grace time, so a slow run or a paused machine never piles runs up. After n failed runs in
a row the next run waits `backoff_delay(n)` from the last one (poll_every * 2^(n-1), at most
an hour), so a tracker that is down for hours is not hammered; each skipped run is logged,
and `bmmsync status` shows the back-off from the runs table with the same function. The
config file is re-read before each run: a broken edit is logged, kept with the run for
`bmmsync status`, and the last good config keeps running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import tzlocal
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bmmsync.config.settings import Config, load_config
from bmmsync.errors import ConfigError
from bmmsync.service.runner import RunReport

log = logging.getLogger("bmmsync.scheduler")

MAX_BACKOFF = timedelta(hours=1)

# A run gets the config, the stop flag, and notes to keep with it (a refused config edit).
RunFn = Callable[[Config, threading.Event, Sequence[str]], RunReport]
SnapshotFn = Callable[[Config], object]
Clock = Callable[[], datetime]


def backoff_delay(failures: int, poll_every: timedelta) -> timedelta:
    """How long after the last of `failures` failed runs in a row the next run may start."""
    if failures <= 0:
        return poll_every
    return min(poll_every * (1 << min(failures - 1, 32)), max(MAX_BACKOFF, poll_every))


def _utcnow() -> datetime:
    return datetime.now(UTC)


_SIGNAL_CHECK_SECONDS = 1.0


class Service:
    """The long-running service: the scheduler, the current config, and the stop flag."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        run: RunFn,
        snapshot: SnapshotFn | None = None,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._run = run
        self._snapshot = snapshot
        self._clock = clock
        self.stop = threading.Event()
        self._failures = 0
        self._not_before: datetime | None = None
        self.scheduler = BackgroundScheduler(timezone=UTC)

    def _reload(self) -> list[str]:
        """Re-read the config file; a broken edit is refused, logged and returned."""
        try:
            self.config = load_config(self.config_path)
        except ConfigError as exc:
            for line in exc.problems:
                log.error("config change refused, keeping the running config: %s", line)
            return [f"config change refused, the running config kept: {p}" for p in exc.problems]
        return []

    def tick(self) -> RunReport | None:
        """One scheduled run, unless a back-off or a stop says otherwise."""
        if self.stop.is_set():
            return None
        now = self._clock()
        poll = self.config.schedule.poll_every
        # Ticks come every poll_every, give or take the jitter: half a period of slack.
        if self._not_before is not None and now + poll / 2 < self._not_before:
            log.info(
                "backing off after %d failed run(s) in a row: run skipped, next run at %s UTC",
                self._failures,
                f"{self._not_before:%Y-%m-%d %H:%M:%S}",
            )
            return None
        notes = self._reload()
        report = self._run(self.config, self.stop, notes)
        if report.result == "failed":
            self._failures += 1
            delay = backoff_delay(self._failures, self.config.schedule.poll_every)
            self._not_before = now + delay
        elif report.result == "ok":
            self._failures, self._not_before = 0, None
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
        # Python runs signal handlers in the main thread only, and a signal the kernel gave
        # another thread (a SIGTERM right after a SIGCONT, say) does not interrupt the main
        # thread's wait: waking each second bounds how late a stop can be.
        while not self.stop.wait(_SIGNAL_CHECK_SECONDS):
            pass
