"""The bot against the sandbox trackers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bmmsync.bot.flagging import MARKER, execute, prepare
from bmmsync.checking import judge_store
from bmmsync.config.settings import Config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.audit_repo import list_audit
from bmmsync.store.database import Store
from bmmsync.store.models import FlagRow
from bmmsync.trace.judge import Verdict
from connectors.base import marker_tag
from connectors.registry import connector_for
from tests.bot.helpers import apply, bot_config, plan, run_lease, sync
from tests.demo_outcomes import FLAGGED, OUTCOMES, STORED
from tests.sync.helpers import clear_log, requests_log

TAG = marker_tag(MARKER)


def gh_issue(server: SandboxServer, key: str) -> Any:
    repo, _, number = key.partition("#")
    return server.state.gh_issue(repo, int(number))


def gh_comments(server: SandboxServer, key: str) -> list[Any]:
    return [c for c in server.state.gh_issue_comments(gh_issue(server, key)) if TAG in c.body]


def writes_in_log(server: SandboxServer) -> list[tuple[str, str]]:
    """Issue-level writes the trackers received (label creation in a repo excluded)."""
    return [
        (r["method"], r["path"])
        for r in requests_log(server)
        if r["method"] != "GET"
        and not r["path"].startswith("/_sandbox")
        and r["route"] != "/github/repos/{owner}/{repo}/labels"
    ]


def outcome(verdict: Verdict) -> str:
    """A verdict in the words of `tests/demo_outcomes.py`."""
    if verdict.scope_reason:
        return verdict.scope_reason
    return verdict.primary.reason if verdict.primary else "traced"


def jira_comments(server: SandboxServer, key: str) -> list[Any]:
    issue = server.state.data.jira_issues[key]
    comments = [server.state.data.jira_comments[i] for i in issue.comment_ids]
    return [c for c in comments if c.properties]


def test_demo_apply_flags_exactly_the_broken_tickets_once_and_second_run_is_a_no_op(
    sandbox: SandboxServer, store: Store
) -> None:
    config = bot_config(sandbox, max_writes_per_run=1000)
    sync(config, store)
    with store.session() as session:
        judgement = judge_store(session, config.mapping.to_rules(), date.today())
    assert {v.key: outcome(v) for v in judgement.verdicts} == STORED

    stats = apply(config, store)

    assert (stats.done, stats.failed, stats.deferred) == (2 * len(FLAGGED), 0, 0)
    data = sandbox.state.data
    held: dict[str, tuple[bool, int]] = {}
    for repo in data.repos.values():
        for issue in repo.issues.values():
            held[issue.key] = ("trace-broken" in issue.labels, len(gh_comments(sandbox, issue.key)))
    for key, jissue in data.jira_issues.items():
        held[key] = ("trace-broken" in jissue.labels, len(jira_comments(sandbox, key)))
    assert held == {key: (key in FLAGGED, int(key in FLAGGED)) for key in OUTCOMES}

    clear_log(sandbox)
    again = apply(config, store)
    assert (again.planned, again.done) == (0, 0)
    sync(config, store)  # the bot's own writes are not activity: still nothing to do
    after_sync = plan(config, store)
    assert after_sync.writes == (), [
        (w.key, w.action.value, w.detail, w.body) for w in after_sync.writes
    ]
    assert writes_in_log(sandbox) == []


def test_plan_is_exactly_what_apply_does(sandbox: SandboxServer, store: Store) -> None:
    config = bot_config(sandbox, max_writes_per_run=20)
    sync(config, store)
    planned = plan(config, store)
    clear_log(sandbox)

    stats = apply(config, store, run_id="r1")

    assert stats.done == len(planned.writes) == 20
    assert len(writes_in_log(sandbox)) == len(planned.writes)
    with store.session() as session:
        audited = [
            (r.source, r.key, r.action)
            for r in reversed(list_audit(session))
            if r.action != "ensure-label"
        ]
    assert audited == [(w.source, w.key, w.action.value) for w in planned.writes]


def test_fix_restores_and_a_new_break_edits_the_same_comment(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    config, key = _flagged_github_ticket(sandbox, store)
    (comment,) = gh_comments(sandbox, key)
    repo, _, number = key.partition("#")
    labels = list(gh_issue(sandbox, key).labels)
    first = _flag_row(store, key)

    sandbox_control.github_change(repo, int(number), labels=[*labels, "cap:self-service-portal"])
    sync(config, store)
    stats = apply(config, store)

    assert stats.by_action == {"remove-label": 1, "restore-comment": 1}
    assert "trace-broken" not in gh_issue(sandbox, key).labels
    (restored,) = gh_comments(sandbox, key)
    assert restored.id == comment.id and "Trace restored" in restored.body

    sandbox_control.github_change(
        repo, int(number), labels=[x for x in labels if x != "trace-broken"]
    )
    sync(config, store)
    stats = apply(config, store)

    assert stats.by_action == {"add-label": 1, "edit-comment": 1}
    assert "trace-broken" in gh_issue(sandbox, key).labels
    (broken_again,) = gh_comments(sandbox, key)
    assert broken_again.id == comment.id and "Broken trace" in broken_again.body
    assert apply(config, store).planned == 0
    again = _flag_row(store, key)  # a new break: a new flag, dated anew
    assert again.first_seen > first.first_seen
    assert again.flagged_at and first.flagged_at and again.flagged_at > first.flagged_at


def _flagged_github_ticket(sandbox: SandboxServer, store: Store) -> tuple[Config, str]:
    """The demo flagged by one apply, and a broken GitHub ticket of it."""
    config = bot_config(sandbox, max_writes_per_run=1000)
    sync(config, store)
    key = next(s.key for s in plan(config, store).seen if s.broken and "#" in s.key)
    apply(config, store)
    return config, key


def _flag_row(store: Store, key: str) -> FlagRow:
    with store.session() as session:
        row = session.scalars(select(FlagRow).where(FlagRow.key == key)).one()
        session.expunge(row)
    return row


def test_a_flag_label_removed_by_a_human_is_put_back_and_keeps_its_date(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    config, key = _flagged_github_ticket(sandbox, store)
    flagged = _flag_row(store, key)
    repo, _, number = key.partition("#")
    labels = [x for x in gh_issue(sandbox, key).labels if x != "trace-broken"]

    sandbox_control.github_change(repo, int(number), labels=labels)
    sync(config, store)
    stats = apply(config, store)

    assert stats.by_action == {"add-label": 1}
    assert "trace-broken" in gh_issue(sandbox, key).labels
    kept = _flag_row(store, key)
    assert (kept.first_seen, kept.flagged_at) == (flagged.first_seen, flagged.flagged_at)


def test_budget_of_3_with_10_findings(sandbox: SandboxServer, store: Store) -> None:
    config = bot_config(sandbox, max_writes_per_run=3, comment=False)
    config = config.model_copy(
        update={
            "sources": [config.sources[0].model_copy(update={"orgs": [], "repos": ["acme/web"]})]
        }
    )
    sync(config, store)

    first = apply(config, store)

    assert (first.planned, first.done, first.deferred) == (10, 3, 7)
    runs = [first] + [apply(config, store) for _ in range(3)]
    assert [r.done for r in runs] == [3, 3, 3, 1]
    assert runs[-1].deferred == 0
    assert apply(config, store).planned == 0


class Crash(BaseException):
    """The process dies (not an error the executor may catch)."""


class CrashAfterComment:
    """A connector wrapper: the comment is posted, then the process dies before recording."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_comment(self, *args: Any, **kwargs: Any) -> Any:
        self.inner.create_comment(*args, **kwargs)
        raise Crash


def test_crash_after_comment_posted_rerun_leaves_one_comment(
    sandbox: SandboxServer, store: Store
) -> None:
    config = bot_config(sandbox, max_writes_per_run=1000)
    sync(config, store)
    crashing = prepare(config, store, factory=lambda s, o: CrashAfterComment(connector_for(s, o)))
    first = crashing.plan.writes[1]
    assert first.action.value == "create-comment"

    with pytest.raises(Crash), run_lease(store) as lease:
        execute(crashing, store, label="trace-broken", fence=lease, run_id="crashed")
    stats = apply(config, store, run_id="rerun")

    assert stats.failed == 0
    broken = [s.key for s in crashing.plan.seen if s.broken and "#" in s.key]
    for key in broken:
        assert len(gh_comments(sandbox, key)) == 1, key
    with store.session() as session:
        rows = list_audit(session, key=first.key)
    assert {(r.run_id, r.status) for r in rows if r.action == "create-comment"} == {
        ("crashed", "interrupted"),
        ("rerun", "done"),
    }
    assert next(r for r in rows if r.run_id == "rerun" and r.action == "create-comment").result == (
        "edited comment found by its marker"
    )


def refuse_writes(control: SandboxControl, key: str, status: int) -> None:
    """The tracker refuses every write on `key` with `status`, in its own error body."""
    if "#" in key:
        repo, _, number = key.partition("#")
        route = rf"^/github/repos/{repo}/issues/{number}(/|$)"
        methods = ("POST", "PATCH", "PUT", "DELETE")
    else:
        route = rf"^/jira/rest/api/\d/issue/{key}(/|$)"
        methods = ("POST", "PUT", "DELETE")
    for method in methods:
        control.fault(route, status, count=100, method=method)


def test_refused_and_deleted_tickets_are_audited_and_the_rest_goes_on(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    config = bot_config(sandbox, max_writes_per_run=1000)
    sync(config, store)
    keys = [s.key for s in plan(config, store).seen if s.broken]
    refused, gone = [k for k in keys if "#" in k][:2]  # GitHub: 403, and 410 (deleted issue)
    jira_refused, deleted = [k for k in keys if "-" in k][:2]  # Jira: 403, and really deleted
    prepared = prepare(config, store)
    refuse_writes(sandbox_control, refused, 403)
    refuse_writes(sandbox_control, gone, 410)
    refuse_writes(sandbox_control, jira_refused, 403)
    sandbox_control.jira_delete(deleted)

    with run_lease(store) as lease:
        stats = execute(prepared, store, label="trace-broken", fence=lease)

    failing = {refused, gone, jira_refused, deleted}
    assert stats.failed == 2 * len(failing)  # label + comment on each
    assert stats.done == len(prepared.plan.writes) - 2 * len(failing)
    for key, status in ((refused, 403), (gone, 410), (jira_refused, 403), (deleted, 404)):
        assert any(key in e and str(status) in e for e in stats.errors), (key, stats.errors)
    assert any("Resource not accessible by personal access token" in e for e in stats.errors)
    assert any("You do not have permission to edit issues" in e for e in stats.errors)
    with store.session() as session:
        for key in failing:
            assert {r.status for r in list_audit(session, key=key)} == {"failed"}, key
        flags = {(row.key): row for row in session.scalars(select(FlagRow))}
    # the store records no label and no comment where the tracker refused them, and keeps
    # those tickets first in line for the next run
    for key in failing:
        assert not flags[key].label_added and flags[key].comment_id is None, key
        assert flags[key].deferred, key
    for key in set(keys) - failing:
        assert flags[key].label_added and flags[key].comment_id, key
        assert not flags[key].deferred, key
    # nothing was written on the refused tickets; every other broken ticket is flagged
    for key in (refused, gone):
        assert "trace-broken" not in gh_issue(sandbox, key).labels
        assert gh_comments(sandbox, key) == []
    assert "trace-broken" not in sandbox.state.data.jira_issues[jira_refused].labels
    for key in set(keys) - failing:
        if "#" in key:
            assert "trace-broken" in gh_issue(sandbox, key).labels, key
            assert len(gh_comments(sandbox, key)) == 1, key
        else:
            assert "trace-broken" in sandbox.state.data.jira_issues[key].labels, key

    sandbox.sandbox.faults.clear()  # the permissions are fixed
    sync(config, store, full=True)  # a full sync marks the deleted ticket gone
    retry = apply(config, store)
    assert retry.failed == 0 and set(retry.by_action) == {"add-label", "create-comment"}
    for key in (refused, gone):
        assert len(gh_comments(sandbox, key)) == 1, key
    assert "trace-broken" in sandbox.state.data.jira_issues[jira_refused].labels
