"""`bmmsync sync`: pull every configured source into the store, then print a summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bmmsync.cli.context import Format, app_context
from bmmsync.store.map_repo import sync_model
from bmmsync.sync import SourceSummary, SyncReport, sync_sources
from bmmsync.untrusted import safe


class RichSyncProgress:
    """One line per source: a spinner and the count of tickets stored so far."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def started(self, source: str) -> None:
        self._tasks[source] = self._progress.add_task(source, total=None, fetched=0)

    def advanced(self, source: str, fetched: int) -> None:
        self._progress.advance(self._tasks[source], fetched)

    def finished(self, summary: SourceSummary) -> None:
        task = self._tasks[summary.name]
        self._progress.update(task, total=summary.fetched, completed=summary.fetched)


def _table(report: SyncReport) -> Table:
    table = Table(
        title="sync", box=None, pad_edge=False, padding=(0, 1, 0, 1), collapse_padding=True
    )
    table.add_column("source", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for column in ("fetched", "new", "changed", "same", "gone", "reqs", "304s"):
        table.add_column(column, justify="right")
    table.add_column("limit", justify="right")
    table.add_column("secs", justify="right")
    for s in report.sources:
        result = ("full " if s.full else "") + ("ok" if s.ok else "FAILED")
        left = "-" if s.rate_limit_left is None else str(s.rate_limit_left)
        table.add_row(
            safe(s.name),
            result,
            *(str(v) for v in (s.fetched, s.new, s.changed, s.unchanged, s.gone)),
            str(s.requests),
            str(s.not_modified),
            left,
            f"{s.seconds:.1f}",
        )
    return table


def sync_command(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", "-s", help="Sync only this source."),
    full: bool = typer.Option(
        False, "--full", help="Re-read everything and mark tickets the tracker no longer shows."
    ),
    format: Format = typer.Option(Format.TABLE, "--format", help="Summary as table or json."),
) -> None:
    """Pull the model file and every configured source's tickets into the store
    (incrementally), so that check, plan and apply see the current map and backlog."""
    app = app_context(ctx)
    config = app.config()
    store = app.store()
    console: Console = app.console
    with store.session() as session:
        model_changes = sync_model(session, config.load_model(), datetime.now(UTC))
    if console.is_terminal and format is Format.TABLE:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} tickets"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bars:
            report = sync_sources(
                config, store, source=source, full=full, progress=RichSyncProgress(bars)
            )
    else:
        report = sync_sources(config, store, source=source, full=full)
    if format is Format.JSON:
        print(json.dumps(report.as_dict() | {"model": model_changes.as_dict()}, indent=2))
    else:
        if not model_changes.unchanged:
            counts = {
                verb: sum(len(ids) for ids in entries.values())
                for verb, entries in model_changes.as_dict().items()
            }
            console.print(
                "model: " + ", ".join(f"{n} {verb}" for verb, n in counts.items() if n),
                highlight=False,
            )
        console.print(_table(report))
        for failed in report.sources:
            if failed.error:
                console.print(safe(f"error: {failed.error}"))
            for project in failed.lost:
                console.print(
                    safe(
                        f"warning: source {failed.name!r}: {project} is no longer reachable; "
                        "its tickets are kept"
                    )
                )
    if not report.ok:
        raise typer.Exit(1)
