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
from bmmsync.outcomes.period import Period, PeriodError, parse_period
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


def report_period(since: str | None, start: str | None, end: str | None, now: datetime) -> Period:
    """The period of `--since` (also a quarter: 2026Q3, last-quarter) or `--from/--to`."""
    try:
        return parse_period(since, start, end, now)
    except PeriodError as exc:
        if since is None or start is not None or end is not None:
            raise typer.BadParameter(str(exc), param_hint="--since/--from/--to") from None
        error = str(exc)
    try:  # the other durations `--since` always took (12h, 2m...)
        return Period(window_start(since, now), now, f"since {since}")
    except typer.BadParameter:
        raise typer.BadParameter(error, param_hint="--since") from None


def report(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None,
        "--since",
        help="Period and trend window: a duration back from now (90d, 12w; default 90d), a "
        "date, a quarter (2026Q3) or last-quarter.",
    ),
    start: str | None = typer.Option(None, "--from", help="Period start date (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--to", help="Period end date, inclusive."),
    fmt: ReportFormat = typer.Option(
        ReportFormat.TABLE, "--format", help="table, json or markdown."
    ),
    today: str | None = typer.Option(None, "--today", help="Judge as of this date (YYYY-MM-DD)."),
    limit: int = typer.Option(20, "--limit", help="Capabilities to list in a table (0: all)."),
) -> None:
    """Print requirement traceability, technical-debt ratio, goal achievement rate and map
    coverage, overall and per source, project and capability, with trends from the snapshots
    `bmmsync check` stored since `--since`; then the period's outcomes: the share of delivered
    (closed) work per motivator, decision and capability, velocity, and how far each key
    result is. Ratios in JSON are fractions (0..1)."""
    app = app_context(ctx)
    config = app.config()
    now = datetime.now(UTC)
    period = report_period(since, start, end, now)
    as_of = as_of_date(today)
    size = config.outcomes.size_rule()
    with app.store().session() as session:
        data = report_store(session, config.mapping.to_rules(), as_of, period, size)
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
    for line in outcome_lines(data["outcomes"], limit):
        console.print(line, highlight=False, markup=False)


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
    print()
    for line in outcome_lines(data["outcomes"], limit, markdown=True):
        print(line)


_LEVELS = (
    ("by_motivator", "motivator"),
    ("by_decision", "decision"),
    ("by_capability", "capability"),
)


def _amount(value: float, unit: str) -> str:
    return f"{value:g} {unit}"


def outcome_lines(outcomes: dict[str, Any], limit: int, markdown: bool = False) -> list[str]:
    """Effort by goal (one block per unit), velocity and key results, as text lines."""
    head = "### " if markdown else ""
    item = "- " if markdown else "  "
    period = outcomes["period"]["label"]
    lines = [f"{head}Delivered work by goal, {period}"]
    if not outcomes["effort"]:
        lines.append(f"{item}no ticket closed in the period")
    for effort in outcomes["effort"]:
        unit = effort["unit"]
        lines.append(
            f"{item}{_amount(effort['total'], unit)} over {effort['tickets']} closed ticket(s); "
            f"untraced {_amount(effort['untraced'], unit)} ({_pct(effort['untraced_share'])})"
        )
        for key, label in _LEVELS:
            rows = effort[key] if limit <= 0 else effort[key][:limit]
            shown = ", ".join(
                f"{r['id']} {_amount(round(r['amount'], 2), unit)} ({_pct(r['share'])})"
                for r in rows
            )
            lines.append(f"{item}  by {label}: {shown}")
    v = outcomes["velocity"]
    overall = v["overall"]
    lines.append(f"{head}Velocity, {period}")
    lines.append(
        f"{item}{overall['items_per_week']:.2f} traced items/week, "
        f"{overall['points_per_week']:.2f} points/week ({overall['items']:g} items "
        f"in {v['weeks']:g} weeks)"
    )
    by_mot = ", ".join(f"{k} {f['items_per_week']:.2f}" for k, f in v["by_motivator"].items())
    if by_mot:
        lines.append(f"{item}items/week by motivator: {by_mot}")
    if v["trend"]:
        points = " -> ".join(f"{t['items_per_week']:.2f}" for t in v["trend"])
        lines.append(f"{item}trend (items/week over the 4 weeks before each snapshot): {points}")
    lines.append(f"{head}Key results")
    if not outcomes["key_results"]:
        lines.append(f"{item}no targets in the map")
    for kr in outcomes["key_results"]:
        lines.append(f"{item}{kr['summary']}")
    return lines
