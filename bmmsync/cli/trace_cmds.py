"""`bmmsync check` and `bmmsync explain`: judge the stored tickets; never write to a tracker.

`check` also stores a snapshot of the figures (the points `bmmsync report` draws trends from)
and lists the map findings for admins; `explain` shows one ticket's chain, or where it breaks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from bmmsync.checking import check_store, store_snapshot, summarise
from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.domain import Finding, Severity
from bmmsync.reporting import explain_stored, map_findings_for
from bmmsync.trace.explain import ExplainNode, Explanation
from bmmsync.trace.judge import Verdict
from bmmsync.untrusted import safe, visible


class CheckFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def as_of_date(today: str | None) -> date:
    """The `--today` option as a date (today in UTC when absent); a bad date is a usage error."""
    if today is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(today)
    except ValueError:
        raise typer.BadParameter(
            f"expected YYYY-MM-DD (got {today!r})", param_hint="--today"
        ) from None


def _md(text: str) -> str:
    return visible(text.replace("\n", " ")).replace("|", "\\|")


def _finding_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [
        {
            "source": v.source,
            "key": v.key,
            "reason": f.reason,
            "severity": f.severity.value,
            "detail": f.detail,
            "suggestion": f.suggestion,
        }
        for v in verdicts
        for f in v.findings
    ]


def _map_rows(findings: list[Finding]) -> list[dict[str, Any]]:
    return [
        {
            "reason": f.reason,
            "severity": f.severity.value,
            "detail": f.detail,
            "suggestion": f.suggestion,
        }
        for f in findings
    ]


def check(
    ctx: typer.Context,
    fmt: CheckFormat = typer.Option(CheckFormat.TABLE, "--format", help="table, json or markdown."),
    limit: int = typer.Option(50, "--limit", help="Findings to list in a table (0: all)."),
    today: str | None = typer.Option(
        None,
        "--today",
        help="Judge as of this date (YYYY-MM-DD), e.g. to preview review dates; a preview "
        "stores no snapshot.",
    ),
) -> None:
    """Judge every stored ticket against the map; print a summary by reason, the findings and
    the map findings for admins, and store a snapshot of the figures for `bmmsync report`.

    Exit 1 if any ticket has an error-level finding (map findings alone do not fail it).
    Never writes to a tracker."""
    app = app_context(ctx)
    config = app.config()
    as_of = as_of_date(today)
    now = datetime.now(UTC)
    with app.store().session() as session:
        judgement = check_store(
            session, config.mapping.to_rules(), as_of, now, config.outcomes.size_rule()
        )
        if today is None:
            store_snapshot(session, judgement, now)
    summary = summarise(judgement)
    findings = _finding_rows(judgement.verdicts)
    on_map = _map_rows(map_findings_for(judgement, as_of))
    failed = any(row["severity"] == Severity.ERROR.value for row in findings)
    if fmt is CheckFormat.JSON:
        print_json({"summary": summary, "findings": findings, "map_findings": on_map})
    elif fmt is CheckFormat.MARKDOWN:
        _print_markdown(summary, findings, on_map)
    else:
        _print_table(app.console, summary, findings, limit)
        _print_map_table(app.console, on_map)
    raise typer.Exit(1 if failed else 0)


def _print_table(
    console: Any, summary: dict[str, Any], findings: list[dict[str, Any]], limit: int
) -> None:
    pct = summary["traceability"]
    console.print(
        f"{summary['tickets']} tickets: {summary['in_scope']} in scope, "
        f"{summary['traced']} traced ({'n/a' if pct is None else f'{pct}%'}), "
        f"{summary['out_of_scope']} out of scope",
        highlight=False,
    )
    if summary["by_reason"]:
        by_reason = Table("reason", "severity", "tickets", title="by reason")
        for row in summary["by_reason"]:
            by_reason.add_row(safe(row["reason"]), safe(row["severity"]), str(row["tickets"]))
        console.print(by_reason)
    shown = findings if limit <= 0 else findings[:limit]
    if shown:
        table = Table("key", "reason", "severity", "detail", "suggestion", title="findings")
        for row in shown:
            table.add_row(
                *(safe(row[c]) for c in ("key", "reason", "severity", "detail", "suggestion"))
            )
        console.print(table)
    if len(shown) < len(findings):
        console.print(f"... {len(findings) - len(shown)} more (use --limit 0 or --format json)")


def _print_map_table(console: Any, on_map: list[dict[str, Any]]) -> None:
    if not on_map:
        return
    table = Table("reason", "severity", "detail", "suggestion", title="map findings (for admins)")
    for row in on_map:
        table.add_row(*(safe(row[c]) for c in ("reason", "severity", "detail", "suggestion")))
    console.print(table)


def _print_markdown(
    summary: dict[str, Any], findings: list[dict[str, Any]], on_map: list[dict[str, Any]]
) -> None:
    pct = summary["traceability"]
    print(
        f"**{summary['in_scope']}** tickets in scope, **{summary['traced']}** traced "
        f"({'n/a' if pct is None else f'{pct}%'}).\n"
    )
    print("| reason | severity | tickets |\n| --- | --- | --- |")
    for row in summary["by_reason"]:
        print(f"| `{row['reason']}` | {row['severity']} | {row['tickets']} |")
    print("\n| ticket | reason | detail | suggestion |\n| --- | --- | --- | --- |")
    for row in findings:
        print(
            f"| {_md(row['key'])} | `{row['reason']}` | {_md(row['detail'])} | "
            f"{_md(row['suggestion'])} |"
        )
    if on_map:
        print("\n**Map findings** (for admins)\n")
        print("| reason | severity | detail | suggestion |\n| --- | --- | --- | --- |")
        for row in on_map:
            print(
                f"| `{row['reason']}` | {row['severity']} | {_md(row['detail'])} | "
                f"{_md(row['suggestion'])} |"
            )


def explain(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Ticket key, e.g. PLAT-12 or acme/web#3."),
    source: str | None = typer.Option(
        None, "--source", help="The source to look in, when several hold the key."
    ),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
    today: str | None = typer.Option(None, "--today", help="Judge as of this date (YYYY-MM-DD)."),
) -> None:
    """Show a stored ticket's chain up to the motivators, with where each link came from, or
    the step where it breaks and how to fix it.

    Exit 0 when the trace holds (or the ticket is out of scope), 1 when it is broken, 2 when
    no stored ticket has the key (the closest keys are suggested)."""
    app = app_context(ctx)
    config = app.config()
    as_of = as_of_date(today)
    with app.store().session() as session:
        found = explain_stored(session, config.mapping.to_rules(), as_of, key, source)
    if fmt is Format.JSON:
        print_json(_explanation_json(found))
    else:
        _print_explanation(app.console, found)
    raise typer.Exit(0 if found.traced or not found.verdict.in_scope else 1)


def _node_json(node: ExplainNode) -> dict[str, Any]:
    return {
        "kind": node.kind,
        "id": node.id,
        "title": node.title,
        "status": node.status,
        "provenance": node.provenance,
        "ok": node.ok,
        "children": [_node_json(child) for child in node.children],
    }


def _explanation_json(found: Explanation) -> dict[str, Any]:
    verdict = found.verdict
    return {
        "source": found.source,
        "key": found.key,
        "in_scope": verdict.in_scope,
        "scope_reason": verdict.scope_reason,
        "traced": found.traced,
        "broken_step": found.broken_step,
        "suggestion": found.suggestion,
        "links": [
            {"capability": link.capability, "via": link.via.value, "origin": link.origin}
            for link in verdict.links
        ],
        "findings": [
            {
                "reason": f.reason,
                "severity": f.severity.value,
                "detail": f.detail,
                "suggestion": f.suggestion,
            }
            for f in found.findings
        ],
        "tree": _node_json(found.tree),
    }


_KIND_LABEL = {
    "missing-parent": "parent",
    "loop": "parent",
    "unknown-capability": "capability",
}


def _node_text(node: ExplainNode, inherited_from: str | None) -> Text:
    """One line of the tree: mark, kind, id, title, status and provenance, never markup."""
    text = Text()
    text.append("✓ " if node.ok else "✗ ", style="green" if node.ok else "bold red")
    kind = node.provenance if node.kind == "ancestor" else _KIND_LABEL.get(node.kind, node.kind)
    text.append(f"{visible(kind)} ")
    text.append(visible(node.id), style="bold")
    if node.title:
        text.append(f" {visible(node.title)}")
    if node.status:
        text.append(f" [{visible(node.status)}]", style="dim" if node.ok else "red")
    if node.kind in ("capability", "unknown-capability") and node.provenance:
        via = f"inherited from {inherited_from}: " if inherited_from else ""
        text.append(visible(f" ({via}{node.provenance})"), style="cyan")
    return text


def _grow(branch: Tree, node: ExplainNode, inherited_from: str | None) -> None:
    """Add `node`'s children under `branch`. Iterative over the ancestor spine, which can be
    a thousand tickets deep; the map part below it is at most three levels."""
    stack: list[tuple[Tree, ExplainNode, str | None]] = [(branch, node, inherited_from)]
    while stack:
        parent_branch, parent, origin = stack.pop()
        for child in parent.children:
            child_origin = child.id if child.kind == "ancestor" else origin
            sub = parent_branch.add(_node_text(child, origin))
            stack.append((sub, child, child_origin))


def _print_explanation(console: Any, found: Explanation) -> None:
    tree = Tree(_node_text(found.tree, None))
    _grow(tree, found.tree, None)
    console.print(tree)
    verdict = found.verdict
    if not verdict.in_scope:
        console.print(safe(f"{found.key} is out of scope ({verdict.scope_reason}): not judged."))
        return
    if found.traced:
        links = ", ".join(f"{link.capability} ({link.provenance})" for link in verdict.links)
        console.print(safe(f"traced: {links}", style="green"))
    for finding in found.findings:
        line = Text()
        line.append(f"{finding.severity.value}: ", style="bold red")
        line.append(f"{finding.reason}: ", style="bold")
        line.append(visible(finding.detail))
        console.print(line)
        if finding.suggestion:
            console.print(safe(f"  suggestion: {finding.suggestion}"))
