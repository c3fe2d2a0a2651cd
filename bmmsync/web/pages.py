"""One view-model per page: plain JSON-ready dicts that the HTML template and the `/api/` twin
both render, so a page and its JSON cannot disagree.

Every builder reads a few rows: the map, the figures the last full check stored per scope
(`dashboard_aggregates`, including the work delivered per day), and one page of a long list
through an index. None judges tickets, except `/explain` (one ticket and its ancestors) and
the review downloads (the same records as `bmmsync review`).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.orm import Session

from bmmsync.checking import DELIVERY_DAYS, REPORT_DAYS
from bmmsync.domain import Status
from bmmsync.outcomes.effort import GoalMap, SizeRule
from bmmsync.outcomes.period import Period
from bmmsync.reporting import (
    UnknownTicketError,
    build_report,
    closest_keys,
    explain_stored,
    outcomes_figures,
)
from bmmsync.store.dashboard_repo import (
    Aggregate,
    load_aggregate,
    load_figures_between,
    scope_names,
)
from bmmsync.store.map_repo import load_model, map_version
from bmmsync.store.measurement_repo import all_measurements
from bmmsync.store.models import (
    AuditRow,
    FlagRow,
    ProblemRow,
    RunRow,
    TicketRow,
    TraceLinkRow,
    VerdictRow,
)
from bmmsync.store.snapshot_repo import snapshot_before, snapshots_since
from bmmsync.store.status_repo import read_status
from bmmsync.trace.explain import ExplainNode
from bmmsync.trace.index import MapIndex
from bmmsync.trace.map_findings import map_findings
from bmmsync.trace.metrics import coverage_figures, goal_figures
from bmmsync.trace.reasons import Reason
from bmmsync.trace.rules import MappingRules
from bmmsync.web.aggregates import (
    ALL,
    FLAGGED_EXAMPLES,
    capability_scope,
    delivered_scope,
    effort_of_days,
    project_scope,
    source_scope,
    week_of,
    window_first,
    window_scope,
)
from bmmsync.web.params import BadParameter, Query

GAP_DAYS = 90
VELOCITY_WEEKS = 13
TICKET_REASONS = tuple(r.value for r in Reason if not r.value.startswith("map-"))
REVIEW_SORTS = ("reason", "key", "title", "flagged_since", "project")
COUNTED = 1000
"""With a text or date filter, `/review` counts matches up to this many, then stops (the
other counts come from the last check): a common text matches most broken rows, and
counting every match read them all per request."""
TRIGRAM = 3
"""The shortest text SQLite's trigram index (migration 0009) can look up."""
CANDIDATES = 5000
"""A text held by at most this many tickets is listed from them (`text_candidates`)."""


class NotFound(LookupError):
    """A path or key names nothing: a 404 page that says what does exist."""

    def __init__(self, message: str, suggestions: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class EmptyStore(LookupError):
    """Nothing checked yet: the page says which command to run."""


EMPTY_HINT = (
    "The store holds no checked tickets yet. Run `bmmsync run --once` (or `bmmsync sync` "
    "then `bmmsync check`), then reload this page."
)


STALE_HINT = (
    "The stored figures come from a check by an older bmmsync. Run `bmmsync check` (a "
    "service run does it too), then reload this page."
)


@dataclass(frozen=True)
class Context:
    """What every page needs besides the session: the rules, the page size and the clock."""

    rules: MappingRules
    page_size: int
    now: datetime
    size: SizeRule = field(default_factory=SizeRule)

    @property
    def today(self) -> date:
        return self.now.date()


def _health(tally: dict[str, Any] | None) -> str:
    """A node's colour: none (no open work), good, fair or poor traceability."""
    if not tally or not tally.get("in_scope"):
        return "none"
    share = tally["traceability"] or 0.0
    return "good" if share >= 0.9 else "fair" if share >= 0.6 else "poor"


def _summed(tallies: list[dict[str, Any]]) -> dict[str, Any]:
    in_scope = sum(t["in_scope"] for t in tallies)
    traced = sum(t["traced"] for t in tallies)
    return {
        "in_scope": in_scope,
        "traced": traced,
        "flagged": in_scope - traced,
        "traceability": round(traced / in_scope, 6) if in_scope else None,
    }


def _scope(session: Session, source: str | None, project: str | None) -> str:
    """The aggregate scope of the source/project filters; a project in several sources needs
    its source."""
    if project is None:
        return source_scope(source) if source else ALL
    if source is not None:
        return project_scope(source, project)
    matches = [n for n in scope_names(session, "project:") if n.split(":", 2)[2] == project]
    if len(matches) > 1:
        raise BadParameter("source", "a source, since this project is in several", "")
    return matches[0] if matches else project_scope("", project)


def _load(session: Session, scope: str) -> Aggregate | None:
    """A scope's figures, read once per request (a page asks for `all` several times, and
    decoding it is most of what a page costs)."""
    memo: dict[str, Aggregate | None] = session.info.setdefault("bmmsync_aggregates", {})
    if scope not in memo:
        memo[scope] = load_aggregate(session, scope)
    return memo[scope]


_MAPS: dict[str, tuple[tuple[Any, ...], MapIndex]] = {}
"""Per store URL: the map last read and its version (`map_version` and the last check)."""


def _map(session: Session) -> MapIndex:
    """The stored map, read once per request, and decoded again only when the map tables or
    the last check changed (decoding ~1,250 rows was most of what `/` cost)."""
    found: MapIndex | None = session.info.get("bmmsync_map")
    if found is None:
        everything = _load(session, ALL)
        version = (everything.computed_at if everything else None, *map_version(session))
        url = session.connection().engine.url.render_as_string()
        cached = _MAPS.get(url)
        if cached is None or cached[0] != version:
            cached = _MAPS[url] = (version, MapIndex(load_model(session)))
        found = session.info["bmmsync_map"] = cached[1]
    return found


def _aggregate_or_empty(session: Session, scope: str) -> Aggregate | None:
    """The scope's figures; raises `EmptyStore` before the first check. An unknown scope (a
    filter that matches nothing) is None: the page shows zeros, not an error."""
    found = _load(session, scope)
    if found is None and _load(session, ALL) is None:
        raise EmptyStore(EMPTY_HINT)
    return found


def _filters(session: Session) -> dict[str, Any]:
    everything = _load(session, ALL)
    figures = everything.figures if everything else {}
    return {"sources": figures.get("sources", []), "projects": figures.get("projects", [])}


# ------------------------------------------------------------------ / (the strategy map)


def strategy_map(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    source, project = query.text("source"), query.text("project")
    scope = _scope(session, source, project)
    aggregate = _aggregate_or_empty(session, scope)
    figures = aggregate.figures if aggregate else {}
    by_cap: dict[str, Any] = figures.get("by_capability", {})
    index = _map(session)
    week_ago = snapshot_before(session, ctx.now - timedelta(days=7)) if scope == ALL else None
    before_caps = week_ago.figures.get("by_capability", {}) if week_ago else {}

    examples = _load(session, FLAGGED_EXAMPLES)
    flagged_examples = examples.figures if examples else {}

    def flagged_work(cid: str) -> list[dict[str, Any]]:
        return [
            item
            for item in flagged_examples.get(cid, [])
            if (not source or item["source"] == source)
            and (not project or item["project"] == project)
        ]

    def capability_node(cid: str) -> dict[str, Any]:
        cap = index.capabilities[cid]
        tally = by_cap.get(cid)
        before = before_caps.get(cid, {}).get("traceability")
        now_share = tally["traceability"] if tally else None
        return {
            "id": cid,
            "name": cap.name,
            "status": cap.status.value,
            "open": tally["in_scope"] if tally else 0,
            "traced_share": now_share,
            "flagged": tally["flagged"] if tally else 0,
            "change": None if now_share is None or before is None else round(now_share - before, 6),
            "health": _health(tally),
            "last_activity": tally["last_activity"] if tally else None,
            "flagged_work": flagged_work(cid),
        }

    motivators = []
    placed: set[str] = set()
    for motivator in sorted(index.motivators.values(), key=lambda m: (m.status, m.id)):
        decisions = []
        for did in index.decisions_for_motivator.get(motivator.id, ()):
            decision = index.decisions[did]
            caps = [
                capability_node(cid)
                for cid in index.capabilities_for_decision.get(did, ())
                if cid in index.capabilities
            ]
            placed.update(c["id"] for c in caps)
            decisions.append(
                {"id": did, "name": decision.name, "status": decision.status.value}
                | _node_figures([by_cap.get(c["id"]) for c in caps])
                | {"capabilities": caps}
            )
        cap_ids = {c["id"] for d in decisions for c in d["capabilities"]}
        motivators.append(
            {
                "id": motivator.id,
                "name": motivator.name,
                "status": motivator.status.value,
                "review_by": motivator.review_by.isoformat() if motivator.review_by else None,
            }
            | _node_figures([by_cap.get(cid) for cid in sorted(cap_ids)])
            | {"decisions": decisions}
        )
    unplaced = [capability_node(cid) for cid in sorted(index.capabilities) if cid not in placed]
    cutoff = (ctx.today - timedelta(days=GAP_DAYS)).isoformat()
    gaps = {
        "motivators_without_open_work": [
            {"id": m["id"], "name": m["name"]}
            for m in motivators
            if m["status"] == Status.ACTIVE.value and m["open"] == 0
        ],
        "capabilities_idle_90_days": [
            {"id": cid, "name": cap.name, "last_activity": by_cap.get(cid, {}).get("last_activity")}
            for cid, cap in sorted(index.capabilities.items())
            if cap.status is Status.ACTIVE
            and (by_cap.get(cid, {}).get("last_activity") or "") < cutoff
        ],
    }
    return {
        "filters": {"source": source, "project": project} | _filters(session),
        "computed_at": aggregate.computed_at.isoformat() if aggregate else None,
        "week_ago_snapshot": week_ago.taken_at.isoformat() if week_ago else None,
        "overall": figures.get("overall"),
        "motivators": motivators,
        "capabilities_without_decision": unplaced,
        "gaps": gaps,
    }


def _node_figures(tallies: list[dict[str, Any] | None]) -> dict[str, Any]:
    """A decision's or motivator's figures: the sum over its capabilities (a ticket linked to
    two of them counts twice)."""
    summed = _summed([t for t in tallies if t])
    return {
        "open": summed["in_scope"],
        "traced_share": summed["traceability"],
        "flagged": summed["flagged"],
        "health": _health(summed),
    }


# ------------------------------------------------------------------ /capabilities/{id}


def _work_query(cid: str, source: str | None, project: str | None) -> Select[*tuple[Any, ...]]:
    query: Select[*tuple[Any, ...]] = (
        select(
            TicketRow.source,
            TicketRow.key,
            TicketRow.url,
            TicketRow.title,
            TicketRow.project,
            TicketRow.state,
            func.coalesce(VerdictRow.traced, True).label("traced"),
            VerdictRow.reason,
            TraceLinkRow.via,
            TraceLinkRow.origin,
        )
        .join(
            TicketRow,
            and_(TicketRow.source == TraceLinkRow.source, TicketRow.key == TraceLinkRow.key),
        )
        .outerjoin(  # no verdict row: in scope and traced (see VerdictRow)
            VerdictRow,
            and_(VerdictRow.source == TraceLinkRow.source, VerdictRow.key == TraceLinkRow.key),
        )
        .where(TraceLinkRow.capability == cid, func.coalesce(VerdictRow.in_scope, True))
    )
    if source:
        query = query.where(TraceLinkRow.source == source)
    if project:
        query = query.where(TicketRow.project == project)
    return query


def _page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    page: int,
    size: int,
    total: int | None = None,
) -> dict[str, Any]:
    """One page of `query`; `total` when the caller already knows it (no count query)."""
    if total is None:
        total = (
            session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        )
    rows = session.execute(query.limit(size).offset((page - 1) * size)).mappings().all()
    return {
        "page": page,
        "page_size": size,
        "total": total,
        "pages": max(1, -(-total // size)),
        "items": [dict(r) for r in rows],
    }


def capability_page(session: Session, ctx: Context, cid: str, query: Query) -> dict[str, Any]:
    source, project = query.text("source"), query.text("project")
    page = query.positive_int("page", 1)
    index = _map(session)
    cap = index.capabilities.get(cid)
    if cap is None:
        close = [index.find_capability(t) or t for t in index.did_you_mean(cid)]
        close += difflib.get_close_matches(cid, list(index.capabilities), n=3)
        found = [c for c in dict.fromkeys(close) if c in index.capabilities]
        raise NotFound(
            f"no capability {cid!r} in the map",
            [
                {
                    "label": f"{c}: {index.capabilities[c].name}",
                    "href": f"/capabilities/{quote(c, safe='')}",
                }
                for c in found[:3]
            ],
        )
    everything = _aggregate_or_empty(session, ALL)
    chain = []
    for did in cap.decisions:
        decision = index.decisions.get(did)
        chain.append(
            {
                "id": did,
                "name": decision.name if decision else "",
                "status": decision.status.value if decision else "undefined",
                "motivators": [
                    {
                        "id": mid,
                        "name": index.motivators[mid].name if mid in index.motivators else "",
                        "status": (
                            index.motivators[mid].status.value
                            if mid in index.motivators
                            else "undefined"
                        ),
                    }
                    for mid in (decision.motivators if decision else ())
                ],
            }
        )
    own = _load(session, capability_scope(cid))
    scoped = _load(session, _scope(session, source, project))
    closed = scoped.figures.get("closed_90_days", {}).get(cid, 0) if scoped else 0
    weekly = scoped.figures.get("velocity", {}).get(cid, {}) if scoped else {}
    weeks = [week_of(ctx.today - timedelta(weeks=n)) for n in range(VELOCITY_WEEKS - 1, -1, -1)]
    series = [{"week": w, "items": weekly.get(w, 0)} for w in weeks]
    recent = own.figures["recently_closed"] if own else []
    if source or project:
        recent = [
            r for r in recent if (not source or r["source"] == source)
            and (not project or r["project"] == project)
        ]  # fmt: skip
    work = _work_query(cid, source, project).order_by(TraceLinkRow.source, TraceLinkRow.key)
    flagged = work.where(VerdictRow.traced.is_(False))
    return {
        "id": cid,
        "name": cap.name,
        "status": cap.status.value,
        "aliases": list(cap.aliases),
        "filters": {"source": source, "project": project} | _filters(session),
        "chain": chain,
        "figures": (everything.figures.get("by_capability", {}).get(cid) if everything else None),
        "breakdown": own.figures["breakdown"] if own else [],
        "open_work": _page(session, work, page, ctx.page_size),
        "flagged": _page(session, flagged, 1, ctx.page_size),
        "closed_90_days": closed,
        "delivered_90_days": _delivered(session, ctx, cid, own),
        "recently_closed": recent,
        "velocity": {
            "weeks": series,
            "items_per_week": round(sum(p["items"] for p in series) / len(series), 3),
        },
    }


def _delivered(
    session: Session, ctx: Context, cid: str, own: Aggregate | None
) -> list[dict[str, Any]]:
    """The capability's share of the work delivered in the last `DELIVERY_DAYS` days: as
    the check summed it into its scope, or, when the check ran on another day or by an older
    bmmsync, summed from the stored days (what `/report` shows for that window)."""
    first = window_first(ctx.today, DELIVERY_DAYS).isoformat()
    stored = own.figures.get("delivered") if own else {"first": first, "rows": []}
    if stored is not None and stored["first"] == first:
        return list(stored["rows"])
    return [
        {"unit": e["unit"], "amount": row["amount"], "share": row["share"]}
        for e in period_outcomes(session, ctx, DELIVERY_DAYS)["effort"]
        for row in e["by_capability"]
        if row["id"] == cid
    ]


# ------------------------------------------------------------------ /review


def review_query(
    source: str | None,
    project: str | None,
    reason: str | None,
    text: str | None,
    flagged_since: date | None,
    capability: str | None = None,
    candidates: Sequence[tuple[str, str]] | None = None,
) -> Select[*tuple[Any, ...]]:
    """Stored verdicts whose trace is broken, with the ticket and the bot's flag; with
    `capability`, those linked to it (the strategy map's flagged count of that node);
    `candidates`: (source, key) pairs that include every ticket matching `text`
    (`text_candidates`)."""
    query: Select[*tuple[Any, ...]] = (
        select(
            VerdictRow.source,
            VerdictRow.key,
            TicketRow.url,
            TicketRow.title,
            TicketRow.project,
            TicketRow.assignee,
            VerdictRow.reason,
            ProblemRow.detail,
            ProblemRow.suggestion,
            FlagRow.flagged_at,
            FlagRow.cleared_at,
        )
        .join(
            TicketRow, and_(TicketRow.source == VerdictRow.source, TicketRow.key == VerdictRow.key)
        )
        .join(ProblemRow, ProblemRow.id == VerdictRow.problem_id)
        .outerjoin(
            FlagRow, and_(FlagRow.source == VerdictRow.source, FlagRow.key == VerdictRow.key)
        )
        .where(VerdictRow.in_scope, VerdictRow.traced.is_(False))
    )
    if source:
        query = query.where(VerdictRow.source == source)
    if project:
        query = query.where(TicketRow.project == project)
    if reason:
        query = query.where(VerdictRow.reason == reason)
    if capability:
        linked = select(TraceLinkRow.source, TraceLinkRow.key).where(
            TraceLinkRow.capability == capability
        )
        query = query.where(tuple_(VerdictRow.source, VerdictRow.key).in_(linked))
    if text:
        query = query.where(_text_match(text))
    if candidates is not None:
        # on the verdict row's primary key, both columns: SQLite then starts from the few
        # candidates (3 ms at 1M) instead of walking every broken row in page order (0.9 s)
        sources = sorted({source for source, _ in candidates})
        keys = sorted({key for _, key in candidates})
        query = query.where(VerdictRow.source.in_(sources), VerdictRow.key.in_(keys))
    if flagged_since:
        start = datetime.combine(flagged_since, datetime.min.time(), UTC)
        query = query.where(FlagRow.flagged_at >= start, FlagRow.cleared_at.is_(None))
    return query


def _text_match(text: str) -> ColumnElement[bool]:
    """`text` in the ticket's title or key, case ignored. PostgreSQL's pg_trgm indexes are
    on exactly these two expressions (migration 0009)."""
    lowered = text.lower()
    pattern = "%" + lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        func.lower(TicketRow.title).like(pattern, escape="\\"),
        func.lower(TicketRow.key).like(pattern, escape="\\"),
    )


def text_candidates(session: Session, text: str) -> list[tuple[str, str]] | None:
    """The (source, key) of the tickets whose title or key holds `text`, found through the
    text index (a superset: `_text_match` still decides), or None when more than
    `CANDIDATES` tickets hold it. A rare text then lists and counts from those few
    tickets, where walking the broken rows in page order would read them all; a common one
    is found by that walk soon. The planners cannot tell the two apart from the filter alone
    (the walk was chosen for a rare text too), so the index is asked first."""
    query = select(TicketRow.source, TicketRow.key).where(_text_match(text)).limit(CANDIDATES + 1)
    if session.get_bind().dialect.name == "sqlite":
        if len(text) < TRIGRAM:
            return None
        fts = table("tickets_text", column("rowid"))
        phrase = '"' + text.lower().replace('"', '""') + '"'
        indexed = select(fts.c.rowid).where(literal_column("tickets_text").op("MATCH")(phrase))
        query = query.where(literal_column("tickets.rowid").in_(indexed))
    found = [(source, key) for source, key in session.execute(query)]
    return found if len(found) <= CANDIDATES else None


def review_page(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    source, project = query.text("source"), query.text("project")
    reason = query.choice("reason", TICKET_REASONS)
    text = query.text("q")
    since = query.day("flagged_since")
    capability = query.text("capability")
    sort = query.choice("sort", REVIEW_SORTS + tuple(f"-{s}" for s in REVIEW_SORTS))
    page = query.positive_int("page", 1)
    _aggregate_or_empty(session, ALL)
    candidates = text_candidates(session, text) if text else None
    base = review_query(source, project, reason, text, since, capability, candidates)
    counts: list[tuple[str, int]] | None = None
    if not text and not since and not capability:
        # Counted by the last full check per scope: counting ~450k broken rows per request
        # took seconds at 1M tickets (bench/web.py). Text and date filters are counted live.
        stored = _aggregate_or_empty(session, _scope(session, source, project))
        by_reason = stored.figures["by_reason"] if stored is not None else {}
        counts = [(r, n) for r, n in by_reason.items() if reason in (None, r)]
    columns: dict[str, list[Any]] = {
        "reason": [VerdictRow.reason],
        "key": [VerdictRow.source, VerdictRow.key],
        "title": [VerdictRow.sort_title],
        "flagged_since": [VerdictRow.flagged_since],
        "project": [VerdictRow.source, VerdictRow.project],
    }
    name = (sort or "reason").lstrip("-")
    descending = bool(sort and sort.startswith("-"))
    # ties by (source, key) in the same direction: each order is one index walked one way
    # each key once: SQLite sorts (`-project`) rather than walk an index for a repeated one
    keys = list(dict.fromkeys([*columns[name], VerdictRow.source, VerdictRow.key]))
    ordered = base.order_by(*(c.desc() if descending else c.asc() for c in keys))
    capped = False
    if counts is None:  # matches are counted by reason up to a bound (no index for text)
        matching = base.with_only_columns(VerdictRow.reason).limit(COUNTED + 1).subquery()
        grouped = select(matching.c.reason, func.count()).group_by(matching.c.reason)
        counts = [(r, n) for r, n in session.execute(grouped)]
        capped = sum(n for _, n in counts) > COUNTED
    listed = _page(session, ordered, page, ctx.page_size, sum(n for _, n in counts))
    for item in listed["items"]:
        since_at = item.pop("flagged_at")
        cleared = item.pop("cleared_at")
        active = since_at if since_at is not None and cleared is None else None
        item["flagged_since"] = active.isoformat() if active else None
        item["age_days"] = (ctx.now - active).days if active else None
        item["explain"] = explain_href(item["key"], item["source"])
    return {
        "filters": {
            "source": source,
            "project": project,
            "reason": reason,
            "q": text,
            "flagged_since": since.isoformat() if since else None,
            "capability": capability,
            "sort": sort or "reason",
            "reasons": list(TICKET_REASONS),
        }
        | _filters(session),
        "by_reason": {r: n for r, n in sorted(counts)},
        "counts_capped": capped,
        "results": listed,
    }


# ------------------------------------------------------------------ /explain


def _node(node: ExplainNode) -> dict[str, Any]:
    return {
        "kind": node.kind,
        "id": node.id,
        "title": node.title,
        "status": node.status,
        "provenance": node.provenance,
        "ok": node.ok,
        "children": [_node(c) for c in node.children],
    }


def explain_href(key: str, source: str | None = None) -> str:
    """A link to `/explain`; keys hold `#` and `/`, so they are encoded (an unencoded `#`
    would start the fragment and ask for `owner/repo` instead)."""
    return "/explain?" + urlencode({"key": key} | ({"source": source} if source else {}))


def explain_page(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    key = query.text("key", required=True)
    source = query.text("source")
    assert key is not None
    try:
        found = explain_stored(session, ctx.rules, ctx.today, key, source)
    except UnknownTicketError as exc:
        raise NotFound(
            str(exc),
            [{"label": k, "href": explain_href(k)} for k in closest_keys(session, key, source)],
        ) from None
    return {
        "key": found.key,
        "source": found.source,
        "traced": found.traced,
        "in_scope": found.verdict.in_scope,
        "broken_step": found.broken_step,
        "suggestion": found.suggestion,
        "findings": [
            {
                "reason": f.reason,
                "severity": f.severity.value,
                "detail": f.detail,
                "suggestion": f.suggestion,
            }
            for f in found.findings
        ],
        "tree": _node(found.tree),
    }


# ------------------------------------------------------------------ /report


def current_figures(session: Session, ctx: Context, everything: Aggregate) -> dict[str, Any]:
    """The last check's figures in the shape of `Metrics.as_dict()`, so `build_report` (the
    one `bmmsync report` uses) reads them; goals and coverage come from the map."""
    index = _map(session)
    by_cap = everything.figures.get("by_capability", {})
    groups = everything.figures.get("groups")
    if groups is None:  # figures stored by a check of an older bmmsync
        raise EmptyStore(STALE_HINT)
    worked = [cid for cid, t in by_cap.items() if t["in_scope"]]
    return {
        "today": ctx.today.isoformat(),
        "overall": everything.figures["overall"],
        **groups,
        "by_capability": by_cap,
        "goals": goal_figures(index, all_measurements(session), ctx.today).as_dict(),
        "coverage": coverage_figures(index, worked).as_dict(),
    }


def report_page(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    days = query.positive_int("days", 90)
    if days > REPORT_DAYS:
        raise BadParameter("days", f"at most {REPORT_DAYS}", str(days))
    everything = _aggregate_or_empty(session, ALL)
    assert everything is not None
    since = ctx.now - timedelta(days=days)
    report = build_report(
        current_figures(session, ctx, everything), snapshots_since(session, since), since.date()
    )
    report["trend"]["first_taken_at"] = _iso(report["trend"]["first_taken_at"])
    for point in report["trend"]["series"]:
        point["taken_at"] = _iso(point["taken_at"])
    report["outcomes"] = period_outcomes(session, ctx, days)
    return {"days": days, "computed_at": everything.computed_at.isoformat()} | report


def period_outcomes(session: Session, ctx: Context, days: int) -> dict[str, Any]:
    """Effort by goal and key results of the last `days` (whole UTC days, today included),
    as `bmmsync report` counts them: the effort from the work the last check stored per
    closing day, the key results from the map and the measurements."""
    first = ctx.today - timedelta(days=days - 1)
    period = Period(datetime.combine(first, time(), UTC), ctx.now, f"last {days}d")
    model = _map(session).model
    figures = outcomes_figures(model, [], all_measurements(session), period, ctx.today)
    window = _load(session, window_scope(days))  # the check summed its default window
    if window is not None and window.figures["first"] == first.isoformat():
        figures["effort"] = window.figures["effort"]
    else:
        stored = load_figures_between(
            session, delivered_scope(first), delivered_scope(ctx.today + timedelta(days=1))
        )
        figures["effort"] = effort_of_days(stored, GoalMap.of(model))
    return {k: figures[k] for k in ("period", "effort", "key_results")}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


# ------------------------------------------------------------------ /map (admins)


def map_page(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    everything = _aggregate_or_empty(session, ALL)
    assert everything is not None
    index = _map(session)
    by_cap = everything.figures.get("by_capability", {})
    worked = [cid for cid, t in by_cap.items() if t["in_scope"]]
    findings = map_findings(index, ctx.today, worked)
    overdue = [
        {"id": m.id, "name": m.name, "review_by": m.review_by.isoformat(), "owner": m.owner}
        for m in sorted(index.motivators.values(), key=lambda m: m.id)
        if m.status is Status.ACTIVE and m.review_by is not None and m.review_by < ctx.today
    ]
    retired_used = [
        {"id": cid, "name": index.capabilities[cid].name, "open": by_cap[cid]["in_scope"]}
        for cid in sorted(by_cap)
        if cid in index.capabilities
        and index.capabilities[cid].status is Status.RETIRED
        and by_cap[cid]["in_scope"]
    ]
    return {
        "computed_at": everything.computed_at.isoformat(),
        "findings": [
            {
                "reason": f.reason,
                "severity": f.severity.value,
                "detail": f.detail,
                "suggestion": f.suggestion,
            }
            for f in findings
        ],
        "motivators_overdue": overdue,
        "retired_capabilities_in_use": retired_used,
        "unknown_references": everything.figures.get("unknown_references", []),
    }


# ------------------------------------------------------------------ /status


def status_page(session: Session, ctx: Context, query: Query) -> dict[str, Any]:
    state = read_status(session)
    runs = session.scalars(select(RunRow).order_by(RunRow.started_at.desc()).limit(10)).all()
    deferred = session.scalar(select(func.count()).where(FlagRow.deferred.is_(True))) or 0
    writes = session.execute(
        select(AuditRow.action, AuditRow.status, func.count()).group_by(
            AuditRow.action, AuditRow.status
        )
    ).all()
    return {
        "runs": [
            {
                "id": r.id,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "holder": r.holder,
                "result": r.result,
                "errors": list((r.summary or {}).get("errors", [])),
            }
            for r in runs
        ],
        "lease": (
            {"holder": state.lease.holder, "expires_at": state.lease.expires_at.isoformat()}
            if state.lease
            else None
        ),
        "sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "last_sync_at": s.last_sync_at.isoformat() if s.last_sync_at else None,
                "last_result": s.last_result,
                "last_error": s.last_error,
                "rate_limit_remaining": s.rate_limit_remaining,
                "flagged": s.flagged,
                "deferred": s.deferred,
            }
            for s in state.sources
        ],
        "writes_deferred": deferred,
        "writes": [{"action": a, "status": st, "count": n} for a, st, n in sorted(writes)],
    }
