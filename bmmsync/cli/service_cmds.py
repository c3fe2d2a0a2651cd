"""`bmmsync run` (the service) and `bmmsync status`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Table
from starlette.routing import BaseRoute

from bmmsync.bot.flagging import apply_step
from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.config.settings import Config
from bmmsync.hooks.routes import hook_routes
from bmmsync.hooks.worker import Worker, webhooks_on
from bmmsync.service.runner import RunReport, run_once, take_snapshot
from bmmsync.service.scheduler import RunFn, Service, backoff_delay
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth
from bmmsync.store.status_repo import read_status
from bmmsync.untrusted import safe, visible
from bmmsync.web.server import DashboardServer, WebServerError

log = logging.getLogger("bmmsync.service")


def run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One run, then exit (for cron and CI)."),
    full: bool = typer.Option(
        False, "--full", help="Full reconciliation (re-read every ticket, check them all)."
    ),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="Output of --once: table or json."),
) -> None:
    """Run sync -> check -> plan -> apply every `schedule.poll_every`, until SIGTERM/SIGINT.

    The first run (and `--once`) checks the whole store; later runs judge only what changed,
    with a full check every `schedule.full_check_every`. Only one instance writes at a time
    (a lease in the store); others skip their run."""
    app = app_context(ctx)
    app.default_log_level = "INFO"
    config = app.config()
    store = app.store()

    writer = threading.Lock()  # the scheduled run and the webhook worker write in turn
    logged_as = [config.logging]
    started = [False]  # the first run of this process checks the whole store

    def one_run(current: Config, stop: threading.Event, notes: Sequence[str]) -> RunReport:
        if current.logging != logged_as[0]:  # the service re-reads its config before each run
            app.apply_logging(current)
            logged_as[0] = current.logging
        with writer:
            report = run_once(
                current,
                store,
                apply_writes=apply_step(stop),
                stop=stop,
                full=full,
                incremental=started[0] and not once,
                notes=notes,
            )
        started[0] = started[0] or report.result != "skipped"
        return report

    if once:
        report = one_run(config, threading.Event(), ())
        if fmt is Format.JSON:
            print_json(report.as_dict())
        else:
            print(report.summary_line())
            for error in report.errors:
                print(f"  error: {visible(error)}")
        raise typer.Exit(1 if report.result == "failed" else 0)
    assert app.config_path is not None
    config_path = app.config_path
    running: list[Service] = []

    def current_config() -> Config:
        """The config the scheduler last loaded (it re-reads the file before each run)."""
        return running[0].config if running else config

    worker = Worker(current_config, store, writer=writer)

    def start_service(run_fn: RunFn) -> Service:
        made = Service(config, config_path, run_fn, lambda cfg: take_snapshot(cfg, store))
        running.append(made)
        if webhooks_on(config):
            threading.Thread(
                target=worker.serve, args=(made.stop,), name="webhook-worker", daemon=True
            ).start()
        return made

    server = _dashboard(config, hook_routes(current_config, store, worker.wake.set))
    if server is None:
        start_service(one_run).serve()
        return
    from bmmsync.web.app import service_metrics

    metrics = service_metrics(server.app)

    def observed_run(current: Config, stop: threading.Event, notes: Sequence[str]) -> RunReport:
        report = one_run(current, stop, notes)
        metrics.observe_run(report.as_dict())
        return report

    with server:
        log.info("dashboard, health and metrics on %s/", server.url)
        start_service(observed_run).serve()


def _dashboard(config: Config, hooks: Sequence[BaseRoute]) -> DashboardServer | None:
    """The dashboard on `web.listen`, unless disabled. A port that is taken is logged and the
    service runs on without it (the health check then reports it): syncing and flagging must
    not stop because another process holds the port."""
    if not config.web.enabled:
        return None
    from bmmsync.cli.serve_cmd import dashboard_server

    try:
        return dashboard_server(config, extra_routes=hooks)
    except WebServerError as exc:
        log.error("dashboard not served: %s", exc)
        return None


def status(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
) -> None:
    """The last run, each source's sync state, flagged items, deferred writes, the lease.

    Exit 1 if the last finished run failed."""
    app = app_context(ctx)
    config = app.config()
    store: Store = app.store()
    with store.session() as session:
        state = read_status(session)
        queued = depth(session)
    last = state.last_finished_run
    poll = config.schedule.poll_every
    failures = state.failures_in_a_row
    next_run = last["started_at"] + backoff_delay(failures, poll) if last is not None else None
    data: dict[str, Any] = {
        "last_run": state.last_run,
        "next_run": next_run,
        "failures_in_a_row": failures,
        "lease": (
            {"holder": state.lease.holder, "expires_at": state.lease.expires_at}
            if state.lease
            else None
        ),
        "sources": [vars(s) for s in state.sources],
        "webhook_queue": queued,
    }
    failed = last is not None and last["result"] == "failed"
    if fmt is Format.JSON:
        print_json(data)
        raise typer.Exit(1 if failed else 0)
    console = app.console
    if last is None:
        console.print("no run yet: start `bmmsync run` (or `bmmsync run --once`)")
    else:
        summary = last["summary"] or {}
        console.print(
            safe(
                f"last run {last['id']}: {last['result']} at "
                f"{last['started_at']:%Y-%m-%d %H:%M:%S} UTC by {last['holder']}"
            )
        )
        check = summary.get("check") or {}
        if check.get("kind"):
            console.print(safe(f"  {check['kind']} check of {check.get('judged', 0)} ticket(s)"))
        for error in summary.get("errors", []):
            console.print(safe(f"  error: {error}"))
        for note in summary.get("notes", []):
            console.print(safe(f"  warning: {note}"))
        if next_run is not None and failures > 1:
            console.print(
                f"backing off after {failures} failed runs in a row: next run due "
                f"{next_run:%Y-%m-%d %H:%M:%S} UTC",
                highlight=False,
            )
        elif next_run is not None:
            console.print(f"next run due {next_run:%Y-%m-%d %H:%M:%S} UTC", highlight=False)
    if queued or webhooks_on(config):
        console.print(f"webhook queue: {queued} event(s) waiting", highlight=False)
    console.print(
        safe(
            f"lease: held by {state.lease.holder} until {state.lease.expires_at:%H:%M:%S} UTC"
            if state.lease
            else "lease: free"
        )
    )
    table = Table(
        "source", "kind", "last sync", "result", "flagged", "deferred", "rate limit left", "error"
    )
    for s in state.sources:
        table.add_row(
            safe(s.name),
            safe(s.kind),
            f"{s.last_sync_at:%Y-%m-%d %H:%M}" if s.last_sync_at else "never",
            safe(s.last_result or "-"),
            str(s.flagged),
            str(s.deferred),
            "-" if s.rate_limit_remaining is None else str(s.rate_limit_remaining),
            safe(s.last_error),
        )
    console.print(table)
    raise typer.Exit(1 if failed else 0)
