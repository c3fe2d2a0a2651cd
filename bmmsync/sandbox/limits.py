"""Rate limits: GitHub's hourly budget and secondary limit, Jira's per-user request rate.

GitHub's figures come from its docs (5,000 an hour per token, headers X-RateLimit-*,
403/429 when exhausted, `retry-after` on secondary limits); Jira Cloud answers 429 with
`Retry-After`. All budgets are per user and reset by `reset()`. Jira's bucket refills by the
sandbox's clock, so a pinned clock holds it empty and `advance` refills it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from bmmsync.sandbox.clock import Clock
from bmmsync.sandbox.config import SandboxConfig


@dataclass(slots=True)
class Budget:
    reset_at: int
    used: int = 0


class Limits:
    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._github: dict[str, Budget] = {}
        self._writes: dict[str, deque[float]] = {}
        self._jira: dict[str, tuple[float, float]] = {}  # user -> (tokens, last time)

    def reset(self) -> None:
        self._github.clear()
        self._writes.clear()
        self._jira.clear()

    def github_budget(self, user: str) -> Budget:
        now = int(time.time())
        budget = self._github.get(user)
        if budget is None or now >= budget.reset_at:
            budget = Budget(reset_at=now + 3600)
            self._github[user] = budget
        return budget

    def github_headers(self, user: str, resource: str = "core") -> dict[str, str]:
        budget = self.github_budget(user)
        limit = self.config.github_rate_limit
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - budget.used)),
            "x-ratelimit-reset": str(budget.reset_at),
            "x-ratelimit-used": str(budget.used),
            "x-ratelimit-resource": resource,
        }

    def github_exhausted(self, user: str) -> bool:
        return self.github_budget(user).used >= self.config.github_rate_limit

    def github_count(self, user: str) -> None:
        self.github_budget(user).used += 1

    def github_secondary_blocked(self, user: str) -> bool:
        """Record one content-creating request; True when it exceeds the per-minute limit."""
        limit = self.config.github_secondary_limit
        if limit is None:
            return False
        now = time.monotonic()
        window = self._writes.setdefault(user, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False

    def jira_blocked(self, user: str) -> bool:
        """Token bucket of `jira_rate_limit` requests per second (burst: one second's worth)."""
        rate = self.config.jira_rate_limit
        if not rate:
            return False
        now = self.clock.seconds()
        tokens, last = self._jira.get(user, (rate, now))
        tokens = min(rate, tokens + max(0.0, now - last) * rate)
        if tokens < 1:
            self._jira[user] = (tokens, now)
            return True
        self._jira[user] = (tokens - 1, now)
        return False
