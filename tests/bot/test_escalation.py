"""Escalation end to end against the sandbox: after `escalate_after`, a second label and the
ticket closed (GitHub `not_planned`, a Jira transition), budgeted, once per break."""

from __future__ import annotations

import time

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from tests.bot.helpers import apply, bot_config, plan, sync


def test_escalation_labels_and_closes_once(sandbox: SandboxServer, store: Store) -> None:
    config = bot_config(
        sandbox,
        max_writes_per_run=1000,
        escalate_after="1s",
        escalation={"label": "needs-justification", "close": True},
    )
    sync(config, store)
    first = apply(config, store)
    assert first.done > 0 and "escalate" not in first.by_action, "not before escalate_after"

    time.sleep(1.5)
    sync(config, store)
    planned = [w for w in plan(config, store).writes if w.action.value == "escalate"]
    assert {w.key for w in planned} >= {"acme/web#9", "PLAT-10"}
    second = apply(config, store)
    assert second.by_action["escalate"] == len(planned) and second.failed == 0

    web9 = sandbox.state.data.repos["acme/web"].issues[9]
    assert "needs-justification" in web9.labels
    assert (web9.state, web9.state_reason) == ("closed", "not_planned")
    plat10 = sandbox.state.data.jira_issues["PLAT-10"]
    assert "needs-justification" in plat10.labels
    assert plat10.status == "Done"

    sync(config, store)
    third = apply(config, store)
    assert "escalate" not in third.by_action, "escalated once per break"


def test_an_escalation_that_only_labels_happens_once_per_break(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    """Without `close` the ticket stays open and broken. A human who takes the escalation
    label off has answered it: the bot remembers the escalation and does not label again."""
    config = bot_config(
        sandbox,
        max_writes_per_run=1000,
        escalate_after="1s",
        escalation={"label": "needs-justification", "close": False},
    )
    sync(config, store)
    apply(config, store)
    time.sleep(1.5)
    sync(config, store)
    assert apply(config, store).by_action["escalate"] > 0
    web9 = sandbox.state.data.repos["acme/web"].issues[9]
    assert "needs-justification" in web9.labels

    labels = [x for x in web9.labels if x != "needs-justification"]
    sandbox_control.github_change("acme/web", 9, labels=labels)
    sync(config, store)

    assert "escalate" not in apply(config, store).by_action
    assert "needs-justification" not in sandbox.state.data.repos["acme/web"].issues[9].labels
