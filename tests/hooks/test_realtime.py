"""Real time end to end: sandbox deliveries -> the hook endpoints -> the queue -> the worker
-> the tracker, on SQLite and PostgreSQL, with no poll in between."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from bmmsync.bot.flagging import apply_step
from bmmsync.config.settings import Config
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth
from tests.hooks.helpers import hook_config, register, serve_hooks, settle

FLAG = "trace-broken"


def _labels(sandbox: SandboxServer, repo: str, number: int) -> list[str]:
    return list(sandbox.state.gh_issue(repo, number).labels)


def _writes(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.sandbox.log.snapshot(True)["requests"] if r["method"] != "GET")


@pytest.fixture
def flagged(tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str) -> Config:
    """The demo after one full run: broken tickets carry the flag and one comment."""
    config = hook_config(tmp_path, sandbox, db_url)
    report = run_once(config, store, apply_writes=apply_step())
    assert report.result == "ok", report.errors
    assert FLAG in _labels(sandbox, "acme/web", 9)
    return config


def test_a_label_fix_lifts_the_flag_without_a_poll_and_the_echo_costs_nothing(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.log.clear()
        sandbox.state.gh_add_labels(sandbox.state.gh_issue("acme/web", 9), ["cap:portal"], "alice")
        report = settle(sandbox, flagged, store)
    sent = sandbox.sandbox.webhooks.snapshot()["deliveries"]
    assert sent[0]["action"] == "labeled" and sent[0]["key"] == "acme/web#9"
    assert {(d["outcome"], d["status"]) for d in sent} == {("delivered", 202)}
    assert FLAG not in _labels(sandbox, "acme/web", 9)
    # the human's change cost one GET; bmmsync's own label removal came back as a delivery
    # and was recognised from the store: no GET, no write, so nothing can loop
    assert any(d["action"] == "unlabeled" for d in sent[1:])
    assert report.events == len(sent) and report.echoes == len(sent) - 1
    assert report.fetched == 1
    requests = [(r["method"], r["path"]) for r in sandbox.sandbox.log.snapshot(True)["requests"]]
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p in requests] == [
        ("GET", ["issues", "9"]),  # one fresh read
        ("DELETE", ["labels", FLAG]),  # the flag goes
        ("PATCH", ["comments", mock.ANY]),  # the one comment says "trace restored"
    ]
    assert report.writes == _writes(sandbox) == 2
    with store.session() as s:
        assert depth(s) == 0


def test_a_human_removing_the_flag_is_read_fresh_and_answered_once(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """Not an echo: the store still shows our label, the delivery says it went. One GET,
    then the bot puts it back (the trace is still broken), and that echo costs nothing."""
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.state.gh_remove_label(sandbox.state.gh_issue("acme/web", 9), FLAG, "alice")
        report = settle(sandbox, flagged, store)
    assert FLAG in _labels(sandbox, "acme/web", 9)
    assert report.fetched == 1 and report.writes == 1 and report.echoes == 1


def test_jira_label_fix_is_reflected_and_a_deleted_ticket_is_marked_gone(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    state = sandbox.state
    assert FLAG in state.jira_issue("PLAT-10").labels
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        issue = state.jira_issue("PLAT-10")
        state.jira_update(issue, "557058:alice", labels=[*issue.labels, "cap:portal"])
        state.jira_delete_issue(state.jira_issue("PLAT-15"))
        report = settle(sandbox, flagged, store)
    assert FLAG not in state.jira_issue("PLAT-10").labels
    assert report.gone == 1 and report.fetched == 2
    with store.session() as s:
        from bmmsync.store.ticket_repo import stored_keys

        assert "PLAT-15" not in stored_keys(s, "platform")
