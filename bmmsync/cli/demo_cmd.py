"""`bmmsync demo`: the whole product in a minute, on the sandbox tracker, with no token.

Starts the sandbox with the demo data on a free port, writes a config for it and a SQLite
store into a working directory, runs sync -> check -> apply once, and shows what happened.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bmmsync.bot.flagging import apply_step
from bmmsync.bot.review import group_by_reason, review_records
from bmmsync.cli.context import app_context
from bmmsync.cli.serve_cmd import dashboard_server, stop_on_signals
from bmmsync.config.settings import Config, load_config
from bmmsync.config.web import split_listen
from bmmsync.sandbox.server import SandboxServer
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.untrusted import safe
from bmmsync.web.server import DashboardServer, WebServerError

SANDBOX_URL_DEFAULT = "${BMMSYNC_SANDBOX_URL:-http://127.0.0.1:8642}"
STORE_URL_DEFAULT = "sqlite:///bmmsync-demo.db"

log = logging.getLogger("bmmsync.demo")


def write_demo_config(directory: Path, sandbox_url: str) -> Path:
    """The shipped demo config, pointed at this sandbox and at a store in `directory`."""
    examples = resources.files("bmmsync.examples")
    text = (examples / "demo.yaml").read_text()
    if SANDBOX_URL_DEFAULT not in text or STORE_URL_DEFAULT not in text:
        raise RuntimeError("config/demo.yaml no longer has the sandbox and store defaults")
    text = text.replace(SANDBOX_URL_DEFAULT, sandbox_url).replace(
        STORE_URL_DEFAULT, f"sqlite:///{directory / 'bmmsync-demo.db'}"
    )
    (directory / "demo-model.yaml").write_text((examples / "demo-model.yaml").read_text())
    path = directory / "bmmsync.yaml"
    path.write_text(text)
    return path


def _demo_dashboard(config: Config) -> DashboardServer:
    """The dashboard on `web.listen`, or on a free port when that one is taken."""
    try:
        return dashboard_server(config).start()
    except WebServerError:
        return dashboard_server(config, port=0).start()


def _posted_comment(server: SandboxServer) -> tuple[str, str] | None:
    """One bmmsync comment as the sandbox holds it: (issue key, body). The comment is only an
    illustration: when the sandbox cannot show it, the demo goes on without it."""
    try:
        response = httpx.get(f"{server.url}/_sandbox/state", timeout=30)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("cannot show the posted comment", extra={"error": str(exc)})
        return None
    for repo, data in sorted(state["github"].items()):
        for issue in data["issues"]:
            for comment in issue["comment_list"]:
                if "bmmsync:" in comment["body"]:
                    return f"{repo}#{issue['number']}", comment["body"]
    return None


def demo(
    ctx: typer.Context,
    port: int = typer.Option(0, "--port", help="Sandbox port (0: a free one)."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where to keep the demo config and store (default: a temp dir)."
    ),
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Keep the sandbox up afterwards to look around."
    ),
) -> None:
    """Run bmmsync end to end on the built-in sandbox tracker (no token, no network)."""
    console: Console = app_context(ctx).console
    workdir = directory or Path(tempfile.mkdtemp(prefix="bmmsync-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    with SandboxServer(port=port, seed="demo") as server:
        config_path = write_demo_config(workdir, server.url)
        config = load_config(config_path)
        console.print(f"sandbox tracker (fake GitHub + Jira) on {server.url}", highlight=False)
        console.print(f"config and store in {workdir}\n", highlight=False)
        store = Store.open(config.store.url.get_secret_value())
        try:
            report = run_once(config, store, apply_writes=apply_step(threading.Event()))
            with store.session() as session:
                records = review_records(session, config.mapping.to_rules(), datetime.now(UTC))
        finally:
            store.close()
        console.print(report.summary_line(), highlight=False)
        for error in report.errors:
            console.print(safe(f"  error: {error}"))
        summary = Table("reason", "items", title="Sprint review: items whose trace is broken")
        for reason, items in group_by_reason(records):
            summary.add_row(safe(reason), safe(", ".join(r["key"] for r in items)))
        console.print()
        console.print(summary)
        check = report.check
        console.print(
            f"\n[bold]Figures:[/] {check.get('in_scope', 0)} backlog items in scope, "
            f"{check.get('traced', 0)} traced to a motivator "
            f"(requirement traceability {check.get('traceability')}%)",
            highlight=False,
        )
        posted = _posted_comment(server)
        if posted is not None:
            heading = safe(f"The comment bmmsync posted on {posted[0]}:", "bold")
            console.print(Text.assemble("\n", heading))
            console.print(Panel(safe(posted[1], lines=True), expand=False))
        seconds = (datetime.now(UTC) - started).total_seconds()
        cfg = f"--config {config_path}"
        if not keep_running:
            console.print(
                f"\nDone in {seconds:.0f}s. To look around, run `bmmsync demo --keep-running "
                "--port 8642` and, in another terminal, try:",
                highlight=False,
            )
        else:
            console.print(f"\nDone in {seconds:.0f}s. In another terminal, try:", highlight=False)
        console.print(
            f"  curl -H 'Authorization: token alice-token' "
            f"{server.github_url}/repos/acme/web/issues\n"
            f"  # fix a ticket as a human, e.g. label acme/web#9 with cap:portal:\n"
            f"  curl -X POST -H 'Authorization: token alice-token' "
            f"{server.github_url}/repos/acme/web/issues/9/labels "
            """-d '{"labels": ["cap:portal"]}'\n"""
            f"  bmmsync {cfg} run --once     # the flag is lifted, the comment edited\n"
            f"  bmmsync {cfg} explain acme/web#9\n"
            f"  bmmsync {cfg} review --format markdown",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if keep_running:
            stop = stop_on_signals()
            with _demo_dashboard(config) as dashboard:
                console.print("\nsandbox and dashboard running; Ctrl+C to stop", highlight=False)
                console.print(f"Dashboard: {dashboard.url}/", highlight=False, soft_wrap=True)
                while not stop.wait(0.5):
                    pass
        else:
            host, port = split_listen(config.web.listen)
            console.print(
                f"\nThe dashboard: `bmmsync {cfg} serve`, then open "
                f"http://{host}:{port}/ (or `bmmsync demo --keep-running`)",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            console.print(f"Dashboard: http://{host}:{port}/", highlight=False, soft_wrap=True)
    if report.result == "failed":
        raise typer.Exit(1)
