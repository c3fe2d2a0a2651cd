"""Injected faults: the next N requests whose path matches a rule fail in a chosen way.

403, 404 and 410 are refusals as the trackers send them (a write the token may not make, a
ticket gone, a GitHub issue deleted): they are answered in each tracker's own error body and
never retried by a client, unlike the 5xx, 429 and timeout faults."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = ("500", "502", "503", "429", "403", "404", "410", "timeout", "malformed", "truncated")


@dataclass(slots=True)
class FaultRule:
    """`route` is a regex searched in the path (a plain prefix such as `/github/repos` works)."""

    route: str
    status: str
    count: int = 1
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return path.startswith(self.route) or re.search(self.route, path) is not None


class FaultBook:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self, route: str, status: str | int, count: int = 1, method: str | None = None
    ) -> FaultRule:
        kind = str(status)
        if kind not in KINDS:
            raise ValueError(f"status must be one of {KINDS}")
        if count < 1:
            raise ValueError("count must be at least 1")
        re.compile(route)
        rule = FaultRule(route, kind, count, method)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> str | None:
        """The fault this request must suffer, consuming one use of the first matching rule."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule.status
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def as_list(self) -> list[dict[str, object]]:
        with self._lock:
            return [asdict(r) for r in self._rules]
