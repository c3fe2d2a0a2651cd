"""`bmmsync report`: the figures now, overall and per source, project and capability, with the
change since the first stored snapshot in the window. Read-only: `check` stores snapshots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import typer
from pydantic_core import PydanticCustomError
from rich.table import Table

from bmmsync.cli.context import app_context
from bmmsync.cli.output import print_json
from bmmsync.cli.trace_cmds import as_of_date
from bmmsync.config.settings import parse_duration
from bmmsync.reporting import HEADLINE, report_store


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


_GROUPS = (("by_source", "source"), ("by_project", "project"), ("by_capability", "capability"))


def window_start(since: str, now: datetime) -> datetime:
    """`90d` (a duration back from now) or `2026-09-01` (a date, from its start in UTC)."""
    try:
        return datetime.combine(date.fromisoformat(since), time(), UTC)
    except ValueError:
        pass
    try:
        back: timedelta = parse_duration(since)
    except PydanticCustomError:
        raise typer.BadParameter(
            f"expected a duration such as 90d or 12w, or a date YYYY-MM-DD (got {since!r})",
            param_hint="--since",
        ) from None
    return now - back


def report(
    ctx: typer.Context,
    since: str = typer.Option(
        "90d", "--since", help="Trend window: a duration back from now (90d, 12w) or a date."
    ),
    fmt: ReportFormat = typer.Option(
        ReportFormat.TABLE, "--format", help="table, json or markdown."
    ),
    today: str | None = typer.Option(None, "--today", help="Judge as of this date (YYYY-MM-DD)."),
    limit: int = typer.Option(20, "--limit", help="Capabilities to list in a table (0: all)."),
) -> None:
    """Print requirement traceability, technical-debt ratio, goal achievement rate and map
    coverage, overall and per source, project and capability, with trends from the snapshots
    `bmmsync check` stored since `--since`. Ratios in JSON are fractions (0..1)."""
    app = app_context(ctx)
    config = app.config()
    now = datetime.now(UTC)
    start = window_start(since, now)
    as_of = as_of_date(today)
    with app.store().session() as session:
        data = report_store(session, config.mapping.to_rules(), as_of, start)
    if fmt is ReportFormat.JSON:
        print_json(data)
    elif fmt is ReportFormat.MARKDOWN:
        _print_markdown(data, limit)
    else:
        _print_tables(app.console, data, limit)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pp(change: float | None) -> str:
    """A change in percentage points; empty when there is nothing to compare with."""
    return "" if change is None else f"{100 * change:+.1f} pp"


def _heading(data: dict[str, Any]) -> str:
    counts, trend = data["counts"], data["trend"]
    first = trend["first_taken_at"]
    window = (
        f"{trend['snapshots']} snapshot(s) since {data['since']}, first {first:%Y-%m-%d %H:%M}"
        if first
        else f"no snapshot since {data['since']} (run `bmmsync check` to store one)"
    )
    return (
        f"as of {data['as_of']}: {counts['in_scope']} of {counts['tickets']} tickets in scope, "
        f"{counts['traced']} traced; trend: {window}"
    )


def _headline_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in HEADLINE:
        row = data["overall"][key]
        first = "" if row["first"] is None else _pct(row["first"])
        rows.append([label, _pct(row["now"]), first, _pp(row["change"])])
    return rows


def _group_rows(data: dict[str, Any], group: str, limit: int) -> list[list[str]]:
    rows = list(data[group].items())
    if group == "by_capability":
        rows.sort(key=lambda item: (-item[1]["in_scope"], item[0]))
        rows = rows if limit <= 0 else rows[:limit]
    return [
        [
            name,
            str(r["in_scope"]),
            str(r["traced"]),
            _pct(r["traceability"]),
            _pp(r["traceability_change"]),
            _pct(r["debt_ratio"]),
            _pp(r["debt_ratio_change"]),
        ]
        for name, r in rows
    ]


_GROUP_COLUMNS = ("in scope", "traced", "traceability", "change", "debt ratio", "change")


def _notes(data: dict[str, Any]) -> list[str]:
    """Which motivators and capabilities are behind the goal and coverage figures."""
    goals, coverage = data["goals"], data["coverage"]
    goal = f"goals: {goals['achieved']} of {goals['due']} key result(s) due met by their date"
    if goals["missed_ids"]:
        goal += f"; missed: {', '.join(goals['missed_ids'])}"
    if goals["unparseable"]:
        goal += f"; unreadable target: {', '.join(goals['unparseable'])}"
    notes = [goal]
    if coverage["idle_capabilities"]:
        idle = ", ".join(coverage["idle_capabilities"])
        notes.append(f"capabilities with no open ticket: {idle}")
    if coverage["undecided_motivators"]:
        undecided = ", ".join(coverage["undecided_motivators"])
        notes.append(f"motivators with no decision: {undecided}")
    return notes


def _print_tables(console: Any, data: dict[str, Any], limit: int) -> None:
    console.print(_heading(data), highlight=False)
    headline = Table("figure", "now", "first", "change", title="figures")
    for row in _headline_rows(data):
        headline.add_row(*row)
    console.print(headline)
    for group, label in _GROUPS:
        rows = _group_rows(data, group, limit)
        if not rows:
            continue
        table = Table(label, *_GROUP_COLUMNS, title=f"by {label}")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        hidden = len(data[group]) - len(rows)
        if hidden:
            console.print(f"... {hidden} more (use --limit 0 or --format json)")
    for note in _notes(data):
        console.print(note, highlight=False, markup=False)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _print_markdown(data: dict[str, Any], limit: int) -> None:
    print(_heading(data) + "\n")
    print(_md_table(["figure", "now", "first", "change"], _headline_rows(data)))
    for group, label in _GROUPS:
        rows = _group_rows(data, group, limit)
        if rows:
            print(f"\n**By {label}**\n")
            print(_md_table([label, *_GROUP_COLUMNS], rows))
    print()
    for note in _notes(data):
        print(f"- {note}")
