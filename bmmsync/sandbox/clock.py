"""A whole-second UTC clock that never goes backwards and that tests can pin or advance.

GitHub reports timestamps in whole seconds and incremental sync depends on `updated_at`
moving forward, so every change in the sandbox takes its time from one `Clock`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Epoch seconds: real time plus an offset, or a pinned value; never decreasing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0
        self._pinned: int | None = None
        self._last = 0

    def now(self) -> int:
        with self._lock:
            t = self._pinned if self._pinned is not None else int(time.time()) + self._offset
            self._last = max(self._last, t)
            return self._last

    def seconds(self) -> float:
        """`now()` with sub-second precision, for rate limits: pinned, time stands still, so
        a test decides when a bucket refills instead of racing the machine's load."""
        with self._lock:
            if self._pinned is not None:
                return float(max(self._pinned, self._last))
            return time.time() + self._offset

    def pin(self, epoch: int) -> None:
        """Freeze time at `epoch` (it still never goes below the last value handed out)."""
        with self._lock:
            self._pinned = epoch

    def advance(self, seconds: int) -> None:
        with self._lock:
            if self._pinned is not None:
                self._pinned += seconds
            else:
                self._offset += seconds

    def release(self) -> None:
        """Follow real time again (plus any offset accumulated)."""
        with self._lock:
            self._pinned = None

    def reset(self) -> None:
        """Back to plain real time, forgetting the past: only for a fresh (re-seeded) world."""
        with self._lock:
            self._offset, self._pinned, self._last = 0, None, 0

    def snapshot(self) -> dict[str, int | None]:
        return {"now": self.now(), "offset": self._offset, "pinned": self._pinned}


def iso_z(epoch: int | None) -> str | None:
    """GitHub's timestamp format: `2026-11-23T10:00:00Z`."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 timestamp (`Z` or offset; naive means UTC) into epoch seconds."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())
