"""The sprint-planning review: broken-trace items with age, assignee and how to fix them.

Shared by `bmmsync review`, `bmmsync demo` and the dashboard's downloads, which use the
same records and the same CSV and Markdown writers, so they cannot drift apart.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from rich.table import Table
from sqlalchemy.orm import Session

from bmmsync.checking import judge_store
from bmmsync.store.flag_repo import load_flags
from bmmsync.trace.rules import MappingRules
from bmmsync.untrusted import safe, visible


@dataclass(frozen=True)
class ReviewFilter:
    source: str | None = None
    project: str | None = None
    reason: str | None = None
    min_age: timedelta | None = None


def review_records(
    session: Session, rules: MappingRules, now: datetime, only: ReviewFilter = ReviewFilter()
) -> list[dict[str, Any]]:
    """In-scope items whose trace is broken, grouped by reason, oldest flag first.

    `flagged_since` is when the bot flagged the item (None if it has not yet)."""
    source, project, reason, min_age = only.source, only.project, only.reason, only.min_age
    judgement = judge_store(session, rules, now.date())
    flags = load_flags(session)
    records: list[dict[str, Any]] = []
    for verdict, ticket in zip(judgement.verdicts, judgement.tickets, strict=True):
        primary = verdict.primary
        if not verdict.in_scope or verdict.traced or primary is None:
            continue
        flag = flags.get((verdict.source, verdict.key))
        since = flag.flagged_at if flag is not None and flag.cleared_at is None else None
        age = (now - since).days if since else None
        if (
            (source and verdict.source != source)
            or (project and ticket.project != project)
            or (reason and primary.reason != reason)
            or (min_age is not None and (since is None or now - since < min_age))
        ):
            continue
        records.append(
            {
                "source": verdict.source,
                "key": verdict.key,
                "url": ticket.url,
                "title": ticket.title,
                "project": ticket.project,
                "assignee": ticket.assignee,
                "reason": primary.reason,
                "detail": primary.detail,
                "suggestion": primary.suggestion,
                "flagged_since": since,
                "age_days": age,
            }
        )
    records.sort(key=lambda r: (r["reason"], -(r["age_days"] or -1), r["source"], r["key"]))
    return records


def review_tables(records: list[dict[str, Any]]) -> list[Table]:
    """One Rich table per reason; every cell from the tracker goes through `safe()`."""
    tables = []
    for group, items in group_by_reason(records):
        table = Table(
            "key", "title", "age", "assignee", "suggestion", title=f"{group} ({len(items)})"
        )
        for r in items:
            table.add_row(
                safe(r["key"]),
                safe(r["title"]),
                age_text(r["age_days"]),
                safe(r["assignee"]),
                safe(r["suggestion"]),
            )
        tables.append(table)
    return tables


def group_by_reason(records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["reason"], []).append(r)
    return list(groups.items())


def age_text(days: int | None) -> str:
    return "not flagged yet" if days is None else f"{days}d"


REVIEW_FIELDS = (
    "source",
    "key",
    "url",
    "title",
    "project",
    "assignee",
    "reason",
    "detail",
    "suggestion",
    "flagged_since",
    "age_days",
)


def review_csv(records: list[dict[str, Any]]) -> str:
    """One row per record, `REVIEW_FIELDS` as the header, dates in ISO 8601."""
    out = io.StringIO()
    # CRLF rows (RFC 4180): the writer then quotes any field holding a bare CR or LF.
    writer = csv.DictWriter(out, fieldnames=REVIEW_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        since = r["flagged_since"]
        writer.writerow(r | {"flagged_since": since.isoformat() if since else ""})
    return out.getvalue()


def review_json(records: list[dict[str, Any]]) -> str:
    """The records as `bmmsync review --format json` prints them."""
    text = json.dumps(
        records,
        indent=2,
        ensure_ascii=False,
        default=lambda value: value.isoformat(),  # the only non-JSON values are datetimes
    )
    return text + "\n"


def _md(text: object) -> str:
    """A table cell: ticket text cannot break the table, inject HTML or mention anyone."""
    value = visible(str(text or "").replace("\n", " "))
    for ch in "\\`*_[]<>|#~!":
        value = value.replace(ch, "\\" + ch)
    return value.replace("@", "@\u200d")


def _md_link(text: str, url: str | None) -> str:
    """A link only to an http(s) page, encoded so the URL cannot end the link early: a
    tracker can hand back any text as a ticket's URL (`javascript:` included)."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return _md(text)
    return f"[{_md(text)}]({quote(url, safe=_URL_SAFE)})"


_URL_SAFE = ":/?#[]@!$&'*+,;=%-._~"


def review_markdown(records: list[dict[str, Any]], now: datetime) -> str:
    """Ready to paste into a planning page: one section per reason."""
    lines = [f"# Broken trace links ({len(records)}), {now:%Y-%m-%d}", ""]
    for group, items in group_by_reason(records):
        lines += [f"## `{group}` ({len(items)})", ""]
        lines += ["| Item | Title | Flagged | Assignee | How to fix |", "|---|---|---|---|---|"]
        for r in items:
            item = _md_link(r["key"], r["url"])
            lines.append(
                f"| {item} | {_md(r['title'])} | {age_text(r['age_days'])} | "
                f"{_md(r['assignee'])} | {_md(r['suggestion'])} |"
            )
        lines.append("")
    return "\n".join(lines)
