"""Injected faults: the next N requests whose path matches a rule fail in a chosen way.

403, 404 and 410 are refusals as the trackers send them (a write the token may not make, a
ticket gone, a GitHub issue deleted): they are answered in each tracker's own error body and
never retried by a client, unlike the 5xx, 429 and timeout faults.

`hold` takes a request in, keeps it waiting (up to the config's `timeout_seconds`) until the
test releases it, then answers it normally, even if its client is gone: a test can stop a
client mid-request, at a known point, and kill it or start a second instance beside it.
`after` lets that many matching requests through first."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = (
    "500",
    "502",
    "503",
    "429",
    "403",
    "404",
    "410",
    "timeout",
    "malformed",
    "truncated",
    "hold",
)


@dataclass(slots=True)
class FaultRule:
    """`route` is a regex searched in the path (a plain prefix such as `/github/repos` works)."""

    route: str
    status: str
    count: int = 1
    method: str | None = None
    after: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return path.startswith(self.route) or re.search(self.route, path) is not None


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    method: str
    path: str
    generation: int


class FaultBook:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._held: dict[int, Hold] = {}
        self._next_hold = 0
        self._generation = 0  # bumped by `release()`: every hold taken before it ends

    def add(
        self,
        route: str,
        status: str | int,
        count: int = 1,
        method: str | None = None,
        after: int = 0,
    ) -> FaultRule:
        kind = str(status)
        if kind not in KINDS:
            raise ValueError(f"status must be one of {KINDS}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if after < 0:
            raise ValueError("after must not be negative")
        re.compile(route)
        rule = FaultRule(route, kind, count, method, after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> str | None:
        """The fault this request must suffer, consuming one use of the first matching rule."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.after > 0:
                        rule.after -= 1
                        continue
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule.status
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.release()

    def hold(self, method: str, path: str) -> Hold:
        with self._lock:
            self._next_hold += 1
            held = Hold(self._next_hold, method, path, self._generation)
            self._held[held.id] = held
            return held

    def is_released(self, held: Hold) -> bool:
        return self._generation != held.generation

    def unhold(self, held: Hold) -> None:
        with self._lock:
            self._held.pop(held.id, None)

    def release(self) -> None:
        """Let every held request go on."""
        with self._lock:
            self._generation += 1

    def holds(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"method": h.method, "path": h.path} for h in self._held.values()]

    def as_list(self) -> list[dict[str, object]]:
        with self._lock:
            return [asdict(r) for r in self._rules]
