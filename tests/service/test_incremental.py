"""Incremental scheduled runs against the sandbox and a real store (SQLite and PostgreSQL):
a run after the first judges and plans only what changed, plus every flag that still owes a
write, and ends where a full check ends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bmmsync.bot.flagging import apply_step
from bmmsync.config.settings import Config, load_config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.check_scope import FULL, INCREMENTAL, choose_scope
from bmmsync.service.runner import RunReport, run_once
from bmmsync.store.database import Store, create_store_engine, upgrade
from bmmsync.store.models import FlagRow, RunRow
from bmmsync.store.verdict_repo import stored_verdicts
from tests.cli.helpers import REPO, run_cli, write_sandbox_config
from tests.service.test_service import tracker_state

FLAG = "trace-broken"


def _config(tmp_path: Path, sandbox: SandboxServer, db_url: str, **kw: Any) -> Config:
    """The demo config on a copy of the demo map (tests edit it)."""
    model = tmp_path / "model.yaml"
    model.write_text((REPO / "config" / "demo-model.yaml").read_text())
    path = write_sandbox_config(tmp_path, sandbox, db_url, **kw)
    path.write_text(path.read_text().replace(str(REPO / "config" / "demo-model.yaml"), str(model)))
    return load_config(path)


def _run(config: Config, store: Store, *, incremental: bool = True) -> RunReport:
    report = run_once(config, store, apply_writes=apply_step(), incremental=incremental)
    assert report.result == "ok", report.errors
    return report


def _labels(sandbox: SandboxServer, key: str) -> list[str]:
    if "#" in key:
        repo, number = key.split("#")
        return list(sandbox.state.gh_issue(repo, int(number)).labels)
    return list(sandbox.state.jira_issue(key).labels)


def _flags(store: Store) -> dict[tuple[str, str], tuple[Any, ...]]:
    with store.session() as s:
        return {
            (f.source, f.key): (
                f.reason,
                f.label_added,
                f.comment_id is not None,
                f.cleared_at is None,
                f.deferred,
            )
            for f in s.scalars(select(FlagRow))
        }


def _verdicts(store: Store) -> dict[tuple[str, str], tuple[Any, ...]]:
    with store.session() as s:
        return {
            (v.source, v.key): (v.in_scope, v.traced, v.reason, v.findings, v.suggestion)
            for v in stored_verdicts(s)
        }


def _settled(config: Config, store: Store) -> RunReport:
    """The first (full) run and one incremental run that takes in the echoes of its writes
    (each ticket the bot wrote on reads as changed once)."""
    first = _run(config, store, incremental=False)
    assert first.check["kind"] == FULL and first.flagging["done"] > 0
    second = _run(config, store)
    assert second.check["kind"] == INCREMENTAL
    return second


def test_a_label_fix_is_judged_alone_and_lifts_the_flag(
    tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    config = _config(tmp_path, sandbox, db_url)
    _settled(config, store)
    assert FLAG in _labels(sandbox, "acme/web#9")
    before = _verdicts(store)
    sandbox.state.gh_add_labels(sandbox.state.gh_issue("acme/web", 9), ["cap:portal"], "alice")

    report = _run(config, store)

    assert report.check["kind"] == INCREMENTAL
    assert report.check["judged"] == 1, "acme/web#9 has no sub-issues"
    assert report.flagging["by_action"] == {"remove-label": 1, "restore-comment": 1}
    assert FLAG not in _labels(sandbox, "acme/web#9")
    after = _verdicts(store)
    fixed = ("web", "acme/web#9")
    assert before.pop(fixed)[1:3] == (False, "no-capability")
    assert after.pop(fixed)[1:3] == (True, None)
    assert before == after
    status = run_cli("--config", str(config.path), "status", "--format", "json")
    check = json.loads(status.stdout)["last_run"]["summary"]["check"]
    assert (check["kind"], check["judged"]) == (INCREMENTAL, 1)
    table = run_cli("--config", str(config.path), "status")
    assert "incremental check of 1 ticket(s)" in table.stdout


def test_writes_deferred_by_the_budget_are_made_by_the_next_incremental_runs(
    tmp_path: Path,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    store: Store,
    db_url: str,
) -> None:
    """Budget 4: the first run defers most writes; incremental runs make them although the
    tickets did not change, and end where an unbudgeted full run ends (tracker and store)."""
    config = _config(tmp_path, sandbox, db_url, budget=4)
    first = _run(config, store, incremental=False)
    assert first.flagging["done"] == 4 and first.flagging["deferred"] > 0
    runs = [_run(config, store) for _ in range(2)]
    assert all(r.check["kind"] == INCREMENTAL for r in runs)
    assert runs[0].flagging["done"] == 4, "deferred tickets are planned though unchanged"
    while runs[-1].flagging["planned"]:
        assert len(runs) < 40, "incremental runs do not converge"
        runs.append(_run(config, store))
    state, flags, verdicts = tracker_state(sandbox_control), _flags(store), _verdicts(store)

    full = _run(config, store, incremental=False)
    assert full.check["kind"] == FULL
    assert full.flagging["planned"] == 0, "a full check finds nothing left to do"
    assert (_flags(store), _verdicts(store)) == (flags, verdicts)

    sandbox_control.seed("demo")  # the same data, judged and written by one full run
    fresh = tmp_path / "reference"
    fresh.mkdir()
    url = f"sqlite:///{fresh / 'store.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    reference = Store.open(url)
    try:
        _run(_config(fresh, sandbox, url), reference, incremental=False)
        assert tracker_state(sandbox_control) == state
        assert (_flags(reference), _verdicts(reference)) == (flags, verdicts)
    finally:
        reference.close()


def test_changes_made_behind_the_bots_back_are_caught(
    tmp_path: Path,
    sandbox: SandboxServer,
    sandbox_control: SandboxControl,
    store: Store,
    db_url: str,
) -> None:
    """No webhook: a human removes the flag from a broken ticket, breaks a traced one and
    fixes a Jira one; the next incremental run sees each through the sync."""
    config = _config(tmp_path, sandbox, db_url)
    _settled(config, store)
    state = sandbox.state
    assert FLAG in _labels(sandbox, "PLAT-10")
    state.gh_remove_label(state.gh_issue("acme/web", 10), FLAG, "alice")
    state.gh_set_labels(state.gh_issue("acme/web", 4), [], "alice")
    sandbox_control.jira_change("PLAT-10", add_labels=["cap:observability"])

    report = _run(config, store)

    assert report.check["kind"] == INCREMENTAL
    assert FLAG in _labels(sandbox, "acme/web#10")
    assert FLAG in _labels(sandbox, "acme/web#4")
    assert FLAG not in _labels(sandbox, "PLAT-10")
    with store.session() as s:
        flag = s.get(FlagRow, ("web", "acme/web#4"))
        assert flag is not None and flag.reason == "no-capability" and flag.comment_id


def test_a_map_change_rejudges_the_linked_tickets(
    tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    """`design-system` gets a decision: its tickets are traced now and lose the flag."""
    config = _config(tmp_path, sandbox, db_url)
    _settled(config, store)
    linked = ["acme/web#13", "PLAT-22"]  # and acme/mobile#15, closed: out of scope, no link
    assert all(FLAG in _labels(sandbox, k) for k in linked)
    model = tmp_path / "model.yaml"
    model.write_text(
        model.read_text().replace(
            "{id: design-system, name: Design system, decisions: []}",
            "{id: design-system, name: Design system, decisions: [onboarding]}",
        )
    )
    assert config.path is not None

    report = _run(load_config(config.path), store)  # the service re-reads it before each run

    assert report.check["kind"] == INCREMENTAL
    assert report.check["judged"] == len(linked)
    assert not any(FLAG in _labels(sandbox, k) for k in linked)


def test_a_full_check_when_due_when_the_rules_change_and_after_an_unfinished_run(
    tmp_path: Path, sandbox: SandboxServer, store: Store, db_url: str
) -> None:
    config = _config(tmp_path, sandbox, db_url)
    _settled(config, store)
    with store.session() as s:
        first = s.scalars(select(RunRow).order_by(RunRow.started_at)).first()
        assert first is not None
        soon = first.started_at + timedelta(hours=23)
        due = first.started_at + config.schedule.full_check_every + timedelta(seconds=1)
        assert choose_scope(s, config, "next", soon, map_unbounded=False).kind == INCREMENTAL
        late = choose_scope(s, config, "next", due, map_unbounded=False)
        assert (late.kind, late.why) == (
            FULL,
            "schedule.full_check_every has passed since the last full check",
        )
        assert choose_scope(s, config, "next", soon, map_unbounded=True).kind == FULL
        edited = config.model_copy(
            update={"flagging": config.flagging.model_copy(update={"contacts": ["#help"]})}
        )
        assert "rules changed" in choose_scope(s, edited, "next", soon, map_unbounded=False).why

    unplanned = run_once(config, store, incremental=True)  # sync and check, no bot
    assert unplanned.check["kind"] == INCREMENTAL and unplanned.check["settled"] is False
    after = _run(config, store)
    assert after.check["kind"] == FULL and "did not finish" in after.check["why"]
    assert _run(config, store).check["kind"] == INCREMENTAL
