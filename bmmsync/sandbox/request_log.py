"""The request log tests and benchmarks read: every request, counts per route, 304s."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    user: str | None
    route: str | None
    fault: str | None = None


class RequestLog:
    """Bounded list of requests (the newest `keep`) plus exact counters over all of them.

    Clearing starts a new generation: a request that began before the clear (one a timeout
    fault still holds) is dropped when it ends, so it never lands in the next test's log.
    """

    def __init__(self, keep: int = 100_000) -> None:
        self.keep = keep
        self._entries: list[LoggedRequest] = []
        self._counts: Counter[str] = Counter()
        self._not_modified = 0
        self._total = 0
        self._generation = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def begin(self) -> int:
        """A request starts: count it in flight; its generation goes back to `add`."""
        with self._lock:
            self._in_flight += 1
            return self._generation

    def add(self, entry: LoggedRequest, generation: int | None = None) -> None:
        """A request ended (`generation` from `begin`); dropped if the log was cleared since."""
        with self._lock:
            if generation is not None:
                self._in_flight -= 1
                if generation != self._generation:
                    return
            self._total += 1
            self._counts[f"{entry.method} {entry.route or entry.path}"] += 1
            if entry.status == 304:
                self._not_modified += 1
            self._entries.append(entry)
            if len(self._entries) > self.keep * 2:
                del self._entries[: -self.keep]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._counts.clear()
            self._not_modified = 0
            self._total = 0

    def snapshot(self, include_requests: bool = True) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "total": self._total,
                "counts": dict(self._counts),
                "not_modified": self._not_modified,
                "in_flight": self._in_flight,
            }
            if include_requests:
                out["requests"] = [asdict(e) for e in self._entries[-self.keep :]]
            return out
