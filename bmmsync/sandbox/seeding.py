"""One entry point for filling a sandbox: `"demo"` or a ticket count."""

from __future__ import annotations

from bmmsync.sandbox.demo import seed_demo
from bmmsync.sandbox.generator import generate
from bmmsync.sandbox.state import SandboxState

MAX_GENERATED = 1_000_000


def seed_state(
    state: SandboxState, seed: str | int, jira_deployment: str | None = None
) -> dict[str, int]:
    """Reset `state` and load `seed`; raise ValueError for anything else."""
    with state.lock:
        state.reset(jira_deployment)
        if str(seed) == "demo":
            return seed_demo(state)
        try:
            n = int(seed)
        except ValueError as exc:
            raise ValueError(f"seed must be 'demo' or a ticket count, not {seed!r}") from exc
        if not 0 <= n <= MAX_GENERATED:
            raise ValueError(f"seed must be between 0 and {MAX_GENERATED}")
        counts = generate(state, n)
        return {"tickets": n, **counts}
