"""`bmmsync plan`, `apply`, `audit` and `review`: the flagging bot and the sprint review.

`plan` and `apply` share `flagging.prepare()`; `plan` simply does not execute. Both work on
the store as it is: run `bmmsync sync` first (the service does sync -> check -> plan -> apply).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from bmmsync.bot.flagging import execute, prepare
from bmmsync.bot.review import (
    ReviewFilter,
    review_csv,
    review_markdown,
    review_records,
    review_tables,
)
from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.config.settings import parse_duration
from bmmsync.errors import ConfigError
from bmmsync.service.runner import take_run_lease
from bmmsync.store.audit_repo import list_audit
from bmmsync.untrusted import safe, visible


def plan(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
) -> None:
    """Print exactly the writes `bmmsync apply` would make now, in order (a dry run)."""
    app = app_context(ctx)
    prepared = prepare(app.config(), app.store())
    p = prepared.plan
    if fmt is Format.JSON:
        print_json(
            {
                "writes": [w.to_json() for w in p.writes],
                "deferred": [w.to_json() for w in p.deferred],
                "stats": p.stats.to_json(),
            }
        )
        return
    table = Table("#", "source", "key", "write", "why", box=None)
    for n, write in enumerate(p.writes, 1):
        table.add_row(
            str(n), safe(write.source), safe(write.key), safe(write.summary()), safe(write.reason)
        )
    app.console.print(table)
    s = p.stats
    print(
        f"{s.scheduled} write(s) planned, {s.deferred} deferred to the next run "
        f"(budget {s.budget}); {s.broken} broken, {s.restored} restored"
    )


def apply(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
) -> None:
    """Make the planned writes (label, one comment per ticket, restorations, escalations).

    Every write is in the audit log. Takes the run lease like a run: while another instance
    holds it, nothing is written (exit 0, "skipped"). Exit 1 if some write failed (the rest
    were made) or the lease was lost midway."""
    app = app_context(ctx)
    config = app.config()
    store = app.store()
    lease = take_run_lease(config, store)
    if isinstance(lease, str):
        if fmt is Format.JSON:
            print_json({"result": "skipped", "skipped_reason": lease})
        else:
            print(f"apply skipped: {lease}")
        raise typer.Exit(0)
    with lease:
        prepared = prepare(config, store, sleep=lease.sleep)
        stats = execute(prepared, store, label=config.flagging.label, fence=lease)
    if fmt is Format.JSON:
        print_json(stats.as_dict())
    else:
        print(stats.summary_line())
        for error in stats.errors:
            print(f"  failed: {visible(error)}")
    raise typer.Exit(1 if stats.failed or stats.lost_lease else 0)


def audit(
    ctx: typer.Context,
    key: str | None = typer.Option(None, "--key", help="Only this ticket."),
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    limit: int = typer.Option(200, "--limit", min=1, help="Newest N entries."),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
) -> None:
    """Every tracker write the bot made or tried: time, source, key, action, result."""
    app = app_context(ctx)
    with app.store().session() as session:
        rows: list[dict[str, Any]] = [
            {
                "at": r.at,
                "run_id": r.run_id,
                "source": r.source,
                "key": r.key,
                "action": r.action,
                "status": r.status,
                "result": r.result,
                "response_id": r.response_id,
            }
            for r in list_audit(session, key=key, source=source, limit=limit)
        ]
    if fmt is Format.JSON:
        print_json(rows)
        return
    table = Table("at", "run", "source", "key", "action", "status", "result", "id", box=None)
    for r in rows:
        cells = [r[c] or "" for c in ("run_id", "source", "key", "action", "status", "result")]
        table.add_row(
            f"{r['at']:%Y-%m-%d %H:%M:%S}", *map(safe, cells), safe(r["response_id"] or "")
        )
    app.console.print(table)


class ReviewFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"


def review(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    project: str | None = typer.Option(None, "--project", help="Only this project/repo."),
    reason: str | None = typer.Option(None, "--reason", help="Only this reason code."),
    older_than: str | None = typer.Option(
        None, "--older-than", help="Only items flagged for at least this long (e.g. 7d)."
    ),
    fmt: ReviewFormat = typer.Option(
        ReviewFormat.TABLE, "--format", help="table, markdown, csv or json."
    ),
) -> None:
    """Broken-trace items for sprint planning, grouped by reason, oldest first.

    `flagged_since` is when the bot flagged the item (empty if not flagged yet)."""
    app = app_context(ctx)
    config = app.config()
    now = datetime.now(UTC)
    try:
        min_age = parse_duration(older_than) if older_than else None
    except (ValueError, TypeError) as exc:
        raise ConfigError([f"--older-than: {exc}"]) from exc
    with app.store().session() as session:
        records = review_records(
            session,
            config.mapping.to_rules(),
            now,
            ReviewFilter(source=source, project=project, reason=reason, min_age=min_age),
        )
    if fmt is ReviewFormat.JSON:
        print_json(records)
    elif fmt is ReviewFormat.CSV:
        sys.stdout.write(review_csv(records))
    elif fmt is ReviewFormat.MARKDOWN:
        print(review_markdown(records, now))
    else:
        for table in review_tables(records):
            app.console.print(table)
        print(f"{len(records)} item(s) with a broken trace")
