"""Real time end to end: sandbox deliveries -> the hook endpoints -> the queue -> the worker
-> the tracker, on SQLite and PostgreSQL, with no poll in between."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import httpx
import pytest
from sqlalchemy import select

from bmmsync.bot.flagging import MARKER, apply_step
from bmmsync.config.settings import Config
from bmmsync.hooks.worker import CLAIM_TTL, Worker
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth, health
from bmmsync.store.models import AuditRow
from bmmsync.sync import connector_options
from tests.hooks.helpers import deliveries, drain, hook_config, register, serve_hooks, settle
from tests.patience import PATIENCE

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


def test_a_human_removing_the_flag_on_jira_is_read_fresh_and_answered_once(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """Jira's changelog names only our label, but the store still shows it: not an echo."""
    state = sandbox.state
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        issue = state.jira_issue("PLAT-10")
        state.jira_update(issue, "557058:alice", labels=[x for x in issue.labels if x != FLAG])
        report = settle(sandbox, flagged, store)
    assert FLAG in state.jira_issue("PLAT-10").labels
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


FIXES = (("acme/web", 9), ("acme/mobile", 7), ("acme/web", 10))


def _fix_three(sandbox: SandboxServer) -> None:
    """Three humans fix three traces: the right capability label on each."""
    state = sandbox.state
    for repo, number in FIXES:
        issue = state.gh_issue(repo, number)
        labels = [x for x in issue.labels if not x.lower().startswith("cap:")]
        state.gh_set_labels(issue, [*labels, "cap:portal"], "alice")


def _write_counts(store: Store) -> dict[tuple[str, str], int]:
    with store.session() as s:
        rows = s.execute(
            select(AuditRow.key, AuditRow.action).where(AuditRow.run_id.like("hook-%"))
        ).all()
    counts: dict[tuple[str, str], int] = {}
    for key, action in rows:
        counts[(key, action)] = counts.get((key, action), 0) + 1
    return counts


def test_duplicated_and_reordered_deliveries_write_each_change_once(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.webhooks.set_faults({"duplicate": 6, "reorder": 4})
        _fix_three(sandbox)
        report = settle(sandbox, flagged, store)
    sent = sandbox.sandbox.webhooks.snapshot()["deliveries"]
    assert len({d["id"] for d in sent}) < len(sent)  # duplicates did arrive
    for repo, number in FIXES:
        assert FLAG not in _labels(sandbox, repo, number)
    counts = _write_counts(store)
    assert counts and set(counts.values()) == {1}, counts
    assert report.fetched == len(FIXES)


def test_dropped_deliveries_are_caught_by_the_reconciliation_poll(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.webhooks.set_faults({"drop_percent": 100})
        _fix_three(sandbox)
        report = settle(sandbox, flagged, store)
        assert report.events == 0
        assert all(FLAG in _labels(sandbox, r, n) for r, n in FIXES)  # nothing came
        poll = run_once(flagged, store, apply_writes=apply_step())
    assert poll.result == "ok"
    assert not any(FLAG in _labels(sandbox, r, n) for r, n in FIXES)


def test_wrongly_signed_deliveries_are_refused_and_the_rest_go_through(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.webhooks.set_faults({"bad_signature": 1})
        _fix_three(sandbox)
        settle(sandbox, flagged, store)
    sent = sandbox.sandbox.webhooks.snapshot()["deliveries"]
    assert sent[0]["status"] == 401 and all(d["status"] == 202 for d in sent[1:])
    assert FLAG in _labels(sandbox, *FIXES[0])  # its delivery was refused: left to the poll
    assert not any(FLAG in _labels(sandbox, r, n) for r, n in FIXES[1:])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_instances_sharing_the_queue_write_each_change_once(
    flagged: Config, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    """Two workers (own connections, own holders) drain one PostgreSQL queue at once."""
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        _fix_three(sandbox)
        deliveries(sandbox)
        stores = [Store.open(db_url) for _ in range(2)]
        workers = [Worker(lambda: flagged, st, f"instance-{i}") for i, st in enumerate(stores)]
        stop = threading.Event()
        threads = [threading.Thread(target=w.serve, args=(stop,)) for w in workers]
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + PATIENCE
            while time.monotonic() < deadline:
                deliveries(sandbox)
                with store.session() as s:
                    if depth(s) == 0 and not any(FLAG in _labels(sandbox, r, n) for r, n in FIXES):
                        break
                time.sleep(0.2)
        finally:
            stop.set()
            for w in workers:
                w.wake.set()
            for t in threads:
                t.join(30)
            for st in stores:
                st.close()
    assert not any(FLAG in _labels(sandbox, r, n) for r, n in FIXES)
    counts = _write_counts(store)
    assert counts and set(counts.values()) == {1}, counts


def _effects(sandbox: SandboxServer) -> dict[tuple[str, str], int]:
    """Writes the tracker carried out (2xx), by method and path."""
    counts: dict[tuple[str, str], int] = {}
    for r in sandbox.sandbox.log.snapshot(True)["requests"]:
        if r["method"] != "GET" and r["status"] < 300:
            counts[(r["method"], r["path"])] = counts.get((r["method"], r["path"]), 0) + 1
    return counts


def test_kill_9_during_queue_processing_then_a_restart_ends_right(
    tmp_path: Path, flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """The worker process is killed while a tracker write hangs; the restarted worker takes
    the expired claim, reads fresh, and finishes: every flag right, no write done twice."""
    assert flagged.path is not None
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        _fix_three(sandbox)
        deliveries(sandbox)
    with store.session() as s:
        queued = depth(s)
    assert queued >= len(FIXES)
    sandbox.sandbox.log.clear()
    sandbox.state.config.update({"timeout_seconds": 60})
    sandbox.sandbox.faults.add("/github/repos/acme/web/issues/10/labels/", "timeout", 1, "DELETE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hooks.drain_process", str(flagged.path), "worker-a"],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while sandbox.sandbox.faults.as_list():  # taken: the write hangs in the sandbox now
            assert time.monotonic() < deadline and proc.poll() is None, "the write never hung"
            time.sleep(0.05)
        before = _effects(sandbox)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    sandbox.sandbox.faults.clear()
    with store.session() as s:
        assert depth(s) == queued  # nothing was completed: all still queued
    # the restarted service (same identity) once the dead worker's claim has expired
    later = datetime.now(UTC) + CLAIM_TTL + timedelta(seconds=1)
    report = drain(flagged, store, "worker-a", now=later)
    assert report.events == queued
    assert not any(FLAG in _labels(sandbox, r, n) for r, n in FIXES)
    after = _effects(sandbox)
    assert set(after.values()) == {1}, after  # each effect once, across the kill
    assert set(before) < set(after)
    with store.session() as s:
        assert depth(s) == 0


def test_a_tracker_down_leaves_events_queued_with_back_off_and_nothing_lost(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.faults.add("/github/repos/acme/web/issues/9$", "malformed", 50, "GET")
        sandbox.state.gh_add_labels(sandbox.state.gh_issue("acme/web", 9), ["cap:portal"], "alice")
        deliveries(sandbox)
        down = drain(flagged, store)
        assert (down.events, down.retried, down.writes) == (1, 1, 0)
        assert drain(flagged, store).events == 0  # backing off: not retried at once
        with store.session() as s:
            assert depth(s) == 1
        assert FLAG in _labels(sandbox, "acme/web", 9)
        sandbox.sandbox.faults.clear()  # the tracker is back
        back = drain(flagged, store, now=datetime.now(UTC) + timedelta(minutes=11))
        echo = settle(sandbox, flagged, store)  # the delivery of its own write, if it is late
    assert back.fetched == 1
    assert (echo.fetched, echo.writes) == (0, 0)  # its own echo costs nothing
    assert FLAG not in _labels(sandbox, "acme/web", 9)
    with store.session() as s:
        assert depth(s) == 0


def _github(sandbox: SandboxServer, method: str, path: str, **kw: object) -> httpx.Response:
    """A human (alice) using GitHub's REST API on the sandbox."""
    headers = {"Authorization": "token alice-token"}
    return httpx.request(method, f"{sandbox.github_url}{path}", headers=headers, **kw)  # type: ignore[arg-type]


def _issue_requests(sandbox: SandboxServer) -> list[tuple[str, str]]:
    """Requests bmmsync made about single issues: (method, "repo#n" or Jira key)."""
    out = []
    for r in sandbox.sandbox.log.snapshot(True)["requests"]:
        if r["user"] in ("alice", "557058:alice"):
            continue
        match = re.search(r"/repos/([^/]+/[^/]+)/issues/(\d+)|/issue/([A-Z]+-\d+)", r["path"])
        if match:
            key = match[3] or f"{match[1]}#{match[2]}"
            out.append((r["method"], key))
    return out


def test_a_renamed_label_rejudges_the_issues_that_carried_it(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """GitHub sends one `label` delivery and no `issues` ones, and the issues' `updated`
    does not move; the worker reads fresh every stored issue that carried the old name."""
    assert FLAG in _labels(sandbox, "acme/web", 10)  # `cap:self-service-portl`: unknown
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.log.clear()
        renamed = _github(
            sandbox,
            "PATCH",
            "/repos/acme/web/labels/cap:self-service-portl",
            json={"new_name": "cap:observability"},
        )
        assert renamed.status_code == 200, renamed.text
        report = settle(sandbox, flagged, store)
    sent = sandbox.sandbox.webhooks.snapshot()["deliveries"]
    assert (sent[0]["event"], sent[0]["action"]) == ("label", "edited")
    assert _labels(sandbox, "acme/web", 10) == ["cap:observability"]
    assert FLAG not in _labels(sandbox, "acme/web", 10)  # now traced: the flag is lifted
    assert report.fetched == 1
    assert ("GET", "acme/web#10") in _issue_requests(sandbox)
    assert {key for _, key in _issue_requests(sandbox)} == {"acme/web#10"}


def test_a_deleted_label_rejudges_the_issues_that_carried_it(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """Deleting `cap:audit-log` silently strips it from acme/web#23, which was traced by it:
    the `label` delivery alone gets the issue flagged."""
    assert FLAG not in _labels(sandbox, "acme/web", 23)
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.log.clear()
        deleted = _github(sandbox, "DELETE", "/repos/acme/web/labels/cap:audit-log")
        assert deleted.status_code == 204, deleted.text
        report = settle(sandbox, flagged, store)
    sent = sandbox.sandbox.webhooks.snapshot()["deliveries"]
    assert (sent[0]["event"], sent[0]["action"]) == ("label", "deleted")
    assert FLAG in _labels(sandbox, "acme/web", 23)
    assert report.fetched == 1
    assert {key for _, key in _issue_requests(sandbox)} == {"acme/web#23"}


def test_a_jira_issue_outside_the_jql_is_ignored_and_counted(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """A Jira webhook reports every issue of the site; the source watches `project = PLAT`.
    An issue of another project is checked against the JQL (one search), never read into the
    store and never flagged, though it is as broken as can be; the refusal is counted."""
    state = sandbox.state
    state.add_project("OPS", "Operations")
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.log.clear()
        issue = state.jira_create_issue("OPS", "Rotate the on-call pager", "557058:alice")
        state.jira_update(issue, "557058:alice", labels=["pager"])
        report = settle(sandbox, flagged, store)
    # one search per key and batch (both deliveries usually land in one batch)
    assert report.events == 2 and report.unwatched in (1, 2) and report.writes == 0
    assert state.jira_issue(issue.key).labels == ["pager"] and not issue.comment_ids
    assert [m for m, _ in _issue_requests(sandbox)] == []  # not even read
    searches = [r for r in sandbox.sandbox.log.snapshot(True)["requests"] if "search" in r["path"]]
    assert len(searches) == report.unwatched and all(issue.key in r["query"] for r in searches)
    with store.session() as s:
        from bmmsync.store.ticket_repo import stored_keys

        assert issue.key not in stored_keys(s, "platform")
        assert [(h.tracker, h.refusals) for h in health(s, ["jira"])] == [
            ("jira", {"unwatched": report.unwatched})
        ]


def test_a_new_jira_issue_inside_the_jql_is_read_and_flagged(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """The other side of the scope check: a new PLAT issue passes it and is handled."""
    state = sandbox.state
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        issue = state.jira_create_issue("PLAT", "Untraced new work", "557058:alice")
        report = settle(sandbox, flagged, store)
    assert report.unwatched == 0 and report.fetched >= 1
    assert FLAG in state.jira_issue(issue.key).labels


def _requests_for(sandbox: SandboxServer, fragment: str) -> list[tuple[str, str]]:
    log = sandbox.sandbox.log.snapshot(True)["requests"]
    return [(r["method"], r["path"]) for r in log if fragment in r["path"]]


def _settle_with(worker: Worker, sandbox: SandboxServer) -> None:
    """Deliver and drain to empty with this one worker (its connectors kept across batches)."""
    while True:
        deliveries(sandbox)
        if not worker.drain_once().events:
            return


def test_a_first_break_costs_three_requests_the_fresh_read_says_no_comment_to_look_for(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """GitHub's issue counts its comments and Jira's issue GET returns its `comment` field:
    with none of ours there, the first flag costs GET, label, comment (no listing)."""
    state = sandbox.state
    assert state.gh_issue("acme/web", 23).comments == 0
    assert state.jira_issue("PLAT-9").comment_ids == []
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        sandbox.sandbox.log.clear()
        state.gh_remove_label(state.gh_issue("acme/web", 23), "cap:audit-log", "alice")
        issue = state.jira_issue("PLAT-9")
        state.jira_update(issue, "557058:alice", labels=[])
        settle(sandbox, flagged, store)
    assert FLAG in _labels(sandbox, "acme/web", 23) and FLAG in state.jira_issue("PLAT-9").labels
    assert [m for m, _ in _requests_for(sandbox, "/issues/23")] == ["GET", "POST", "POST"]
    assert [m for m, _ in _requests_for(sandbox, "/issue/PLAT-9")] == ["GET", "PUT", "POST"]
    assert state.gh_issue("acme/web", 23).comments == 1
    assert len(state.jira_issue("PLAT-9").comment_ids) == 1


def test_a_fresh_read_from_an_earlier_batch_never_skips_the_marker_lookup(
    flagged: Config, sandbox: SandboxServer, store: Store
) -> None:
    """One comment per ticket, ever: a batch reads acme/mobile#2 (no comment then), another
    process then posts our comment there (a run that crashed before recording it), and a
    later batch breaks #2 through its parent without reading #2 again. The comment is found
    by its marker and edited, not posted twice."""
    state = sandbox.state
    worker = Worker(lambda: flagged, store, "test-worker")
    with serve_hooks(flagged, store) as root:
        register(sandbox, root)
        state.gh_add_labels(state.gh_issue("acme/mobile", 2), ["ux"], "alice")
        _settle_with(worker, sandbox)
        assert FLAG not in _labels(sandbox, "acme/mobile", 2)
        other = worker.factory(flagged.source("web"), connector_options(flagged))
        other.create_comment("acme/mobile#2", "posted by a run that then crashed", MARKER)
        state.gh_remove_label(state.gh_issue("acme/mobile", 1), "cap:offline", "alice")
        _settle_with(worker, sandbox)
    assert FLAG in _labels(sandbox, "acme/mobile", 1) and FLAG in _labels(sandbox, "acme/mobile", 2)
    assert state.gh_issue("acme/mobile", 2).comments == 1
    assert state.gh_issue("acme/mobile", 1).comments == 1
