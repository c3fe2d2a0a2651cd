"""The dashboard's figures per scope, computed once per full check (pure: verdicts in, dicts out).

A scope is everything (`all`), one source (`source:NAME`) or one project
(`project:SOURCE:PROJECT`). Each holds its tally, the tally per capability, the count per
reason and per ticket state, and per capability the work closed in the last 90 days and the
traced items closed per ISO week (delivery velocity). `all` also holds, per capability, a few
flagged and the most recently closed items, and the most used labels and field values that
name no capability. One pass over the verdicts fills the project scopes, which are then
summed into the wider ones, so the cost is linear and small next to the judging itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bmmsync.domain import Ticket
from bmmsync.outcomes.effort import Delivered, GoalMap, Unit, UnitEffort
from bmmsync.trace.judge import Verdict
from bmmsync.trace.reasons import Reason

ALL = "all"
FLAGGED_EXAMPLES = "flagged-examples"
"""A few flagged items per capability, for the strategy map's work level."""
DELIVERED = "delivered:"
"""Scopes `delivered:YYYY-MM-DD`: the work closed that UTC day, per unit."""
WINDOW = "window:"
"""Scopes `window:DAYS`: effort by goal of the work closed in the last DAYS days as of the
check (`/report`'s default window), summed from the day scopes once per check."""
UNKNOWN_EXAMPLES = 5
UNKNOWN_LISTED = 50
CLOSED_LISTED = 20
FLAGGED_LISTED = 5


def _item(ticket: Ticket) -> dict[str, Any]:
    return {
        "source": ticket.source,
        "key": ticket.key,
        "url": ticket.url,
        "title": ticket.title,
        "project": ticket.project,
    }


CAPABILITY = "capability:"


def capability_scope(cid: str) -> str:
    return f"{CAPABILITY}{cid}"


def source_scope(source: str) -> str:
    return f"source:{source}"


def project_scope(source: str, project: str) -> str:
    return f"project:{source}:{project}"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


@dataclass(slots=True)
class Tally:
    """Counts over some tickets. `flagged` is in scope and untraced: what the bot flags."""

    tickets: int = 0
    in_scope: int = 0
    traced: int = 0
    work: float = 0.0
    untraced_work: float = 0.0
    last_activity: str | None = None

    def add(self, verdict: Verdict, updated: datetime | None) -> None:
        self.tickets += 1
        if not verdict.in_scope:
            return
        self.in_scope += 1
        work = 1.0 if verdict.story_points is None else float(verdict.story_points)
        self.work += work
        if verdict.traced:
            self.traced += 1
        else:
            self.untraced_work += work
        if updated is not None:
            stamp = updated.date().isoformat()
            if self.last_activity is None or stamp > self.last_activity:
                self.last_activity = stamp

    def merge(self, other: Tally) -> None:
        self.tickets += other.tickets
        self.in_scope += other.in_scope
        self.traced += other.traced
        self.work += other.work
        self.untraced_work += other.untraced_work
        if other.last_activity is not None and (
            self.last_activity is None or other.last_activity > self.last_activity
        ):
            self.last_activity = other.last_activity

    def as_dict(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "in_scope": self.in_scope,
            "traced": self.traced,
            "flagged": self.in_scope - self.traced,
            "work": self.work,
            "untraced_work": self.untraced_work,
            "traceability": _ratio(self.traced, self.in_scope),
            "debt_ratio": _ratio(self.untraced_work, self.work),
            "last_activity": self.last_activity,
        }


@dataclass(slots=True)
class _Scope:
    overall: Tally = field(default_factory=Tally)
    by_capability: dict[str, Tally] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    weekly: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_closed(self, verdict: Verdict, week: str) -> None:
        for cid in dict.fromkeys(link.capability for link in verdict.links):
            self.closed[cid] = self.closed.get(cid, 0) + 1
            if verdict.traced:
                weeks = self.weekly.setdefault(cid, {})
                weeks[week] = weeks.get(week, 0) + 1

    def merge(self, other: _Scope) -> None:
        self.overall.merge(other.overall)
        for cid, tally in other.by_capability.items():
            self.by_capability.setdefault(cid, Tally()).merge(tally)
        for reason, n in other.by_reason.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + n
        for state, n in other.by_state.items():
            self.by_state[state] = self.by_state.get(state, 0) + n
        for cid, n in other.closed.items():
            self.closed[cid] = self.closed.get(cid, 0) + n
        for cid, weeks in other.weekly.items():
            mine = self.weekly.setdefault(cid, {})
            for week, n in weeks.items():
                mine[week] = mine.get(week, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "by_capability": {
                cid: self.by_capability[cid].as_dict() for cid in sorted(self.by_capability)
            },
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_state": dict(sorted(self.by_state.items())),
            "closed_90_days": dict(sorted(self.closed.items())),
            "velocity": {cid: dict(sorted(w.items())) for cid, w in sorted(self.weekly.items())},
        }


def primary_reason(verdict: Verdict) -> str:
    primary = verdict.primary
    return primary.reason if primary is not None else ""


def week_of(day: date) -> str:
    """The Monday of `day`'s ISO week, as an ISO date: the key of a velocity week."""
    return (day - timedelta(days=day.weekday())).isoformat()


def compute_aggregates(
    verdicts: Sequence[Verdict],
    tickets: Sequence[Ticket],
    delivered: Sequence[tuple[Verdict, Ticket]] = (),
) -> dict[str, dict[str, Any]]:
    """Figures per scope, from a full judgement (`verdicts[i]` judges `tickets[i]`) and the
    work closed lately, judged as if open (`checking.judged_as_open`)."""
    projects: dict[tuple[str, str], _Scope] = {}
    unknown: dict[tuple[str, str], list[Any]] = {}
    flagged: dict[str, list[dict[str, Any]]] = {}
    unknown_reason = Reason.UNKNOWN_CAPABILITY.value
    for verdict, ticket in zip(verdicts, tickets, strict=True):
        scope = projects.get((verdict.source, verdict.project))
        if scope is None:
            scope = projects[(verdict.source, verdict.project)] = _Scope()
        updated = ticket.updated
        scope.overall.add(verdict, updated)
        state = "closed" if ticket.closed else "open"
        scope.by_state[state] = scope.by_state.get(state, 0) + 1
        if not verdict.in_scope:
            continue
        for cid in dict.fromkeys(link.capability for link in verdict.links):
            tally = scope.by_capability.get(cid)
            if tally is None:
                tally = scope.by_capability[cid] = Tally()
            tally.add(verdict, updated)
            if not verdict.traced:
                examples = flagged.setdefault(cid, [])
                if len(examples) < FLAGGED_LISTED:
                    examples.append(_item(ticket) | {"reason": primary_reason(verdict)})
        primary = verdict.primary
        if primary is not None and not verdict.traced:
            scope.by_reason[primary.reason] = scope.by_reason.get(primary.reason, 0) + 1
        for finding in verdict.findings:
            if finding.reason == unknown_reason:
                entry = unknown.setdefault((finding.detail, finding.suggestion), [0, []])
                entry[0] += 1
                if len(entry[1]) < UNKNOWN_EXAMPLES:
                    entry[1].append({"source": verdict.source, "key": verdict.key})
    recent: dict[str, list[dict[str, Any]]] = {}
    for verdict, ticket in sorted(delivered, key=lambda d: d[1].closed_at or datetime.min):
        closed_at = ticket.closed_at
        assert closed_at is not None
        scope = projects.get((verdict.source, verdict.project))
        if scope is None:
            scope = projects[(verdict.source, verdict.project)] = _Scope()
        scope.add_closed(verdict, week_of(closed_at.date()))
        for cid in dict.fromkeys(link.capability for link in verdict.links):
            items = recent.setdefault(cid, [])
            items.append(
                _item(ticket) | {"closed_at": closed_at.isoformat(), "traced": verdict.traced}
            )
            del items[:-CLOSED_LISTED]
    out = _rolled_up(projects, unknown)
    out[FLAGGED_EXAMPLES] = dict(sorted(flagged.items()))
    return out | _per_capability(out, recent)


def _per_capability(
    scopes: dict[str, dict[str, Any]], recent: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """What only a capability's page reads, in a scope of its own (`capability:ID`): its
    tally per source and project, and its most recently closed items. Kept out of `all`,
    which every page reads."""
    out: dict[str, dict[str, Any]] = {}

    def scope_of(cid: str) -> dict[str, Any]:
        found = out.get(capability_scope(cid))
        if found is None:
            found = out[capability_scope(cid)] = {"breakdown": [], "recently_closed": []}
        return found

    for prefix, kind in (("source:", "source"), ("project:", "project")):
        for name in sorted(n for n in scopes if n.startswith(prefix)):
            for cid, tally in scopes[name]["by_capability"].items():
                scope_of(cid)["breakdown"].append(
                    {"kind": kind, "name": name.split(":", 1)[1]} | tally
                )
    for cid, items in recent.items():
        scope_of(cid)["recently_closed"] = items[::-1]
    return out


def _rolled_up(
    projects: dict[tuple[str, str], _Scope], unknown: dict[tuple[str, str], list[Any]]
) -> dict[str, dict[str, Any]]:
    everything = _Scope()
    sources: dict[str, _Scope] = {}
    out: dict[str, dict[str, Any]] = {}
    for (source, project), scope in sorted(projects.items()):
        sources.setdefault(source, _Scope()).merge(scope)
        everything.merge(scope)
        out[project_scope(source, project)] = scope.as_dict()
    for source, scope in sources.items():
        out[source_scope(source)] = scope.as_dict()
    ranked = sorted(unknown.items(), key=lambda item: (-item[1][0], item[0]))
    out[ALL] = everything.as_dict() | {
        "unknown_references": [
            {"detail": detail, "suggestion": suggestion, "tickets": n, "examples": examples}
            for (detail, suggestion), (n, examples) in ranked[:UNKNOWN_LISTED]
        ],
        "groups": {  # what /report's tables need, without reading every scope
            "by_source": {source: out[source_scope(source)]["overall"] for source in sources},
            "by_project": {
                f"{source}:{project}": out[project_scope(source, project)]["overall"]
                for source, project in sorted(projects)
            },
        },
        "sources": sorted(sources),
        "projects": [
            {"source": source, "project": project} for source, project in sorted(projects)
        ],
    }
    return out


def delivered_scope(day: date) -> str:
    return DELIVERED + day.isoformat()


def delivered_by_day(items: Iterable[Delivered]) -> dict[str, dict[str, Any]]:
    """Delivered work summed per closing day (UTC) and unit: tickets, total, untraced (absent
    when no item was) and the amount per capability, each item split evenly between its
    capabilities, as effort by goal splits it. Summing a window's days and splitting the
    sums (`effort_of_days`) gives effort by goal without the tickets."""
    days: dict[str, dict[str, Any]] = {}
    for item in items:
        day = days.setdefault(delivered_scope(item.closed_at.date()), {})
        bucket = day.get(item.unit.value)
        if bucket is None:
            bucket = day[item.unit.value] = {"tickets": 0, "by_capability": {}}
        bucket["tickets"] += 1
        if not item.capabilities:
            bucket["untraced"] = bucket.get("untraced", 0.0) + item.amount
            continue
        share = item.amount / len(item.capabilities)
        by_capability = bucket["by_capability"]
        for cid in item.capabilities:
            by_capability[cid] = by_capability.get(cid, 0.0) + share
    return days


def window_scope(days: int) -> str:
    return f"{WINDOW}{days}"


def window_first(today: date, days: int) -> date:
    """The first day of the window of `days` days that ends `today` (included)."""
    return today - timedelta(days=days - 1)


def with_window(
    figures: dict[str, dict[str, Any]], goals: GoalMap, today: date, days: int
) -> dict[str, dict[str, Any]]:
    """`figures` (with `delivered_by_day`'s day scopes) plus the window of `days` days ending
    `today`, summed once here rather than per request: its effort by goal in `window:DAYS`,
    and each capability's share of it as `delivered` in its `capability:ID` scope. Both say
    which window they hold (`first`): a page asked on a later day sums the days itself."""
    first = window_first(today, days)
    low, high = delivered_scope(first), delivered_scope(today + timedelta(days=1))
    inside = [figures[name] for name in sorted(figures) if low <= name <= high]
    effort = effort_of_days(inside, goals)
    rows: dict[str, list[dict[str, Any]]] = {}
    for e in effort:
        for row in e["by_capability"]:
            rows.setdefault(row["id"], []).append(
                {"unit": e["unit"], "amount": row["amount"], "share": row["share"]}
            )
    out = figures | {window_scope(days): {"first": first.isoformat(), "effort": effort}}
    for cid in rows:
        out.setdefault(capability_scope(cid), {"breakdown": [], "recently_closed": []})
    for name in [n for n in out if n.startswith(CAPABILITY)]:
        delivered = {"first": first.isoformat(), "rows": rows.get(name[len(CAPABILITY) :], [])}
        out[name] = out[name] | {"delivered": delivered}
    return out


def effort_of_days(days: Iterable[dict[str, Any]], goals: GoalMap) -> list[dict[str, Any]]:
    """Effort by goal per unit (`UnitEffort.as_dict`, units in their order) of the stored
    days' delivered work (`delivered_by_day`): summed per capability first, then split."""
    sums: dict[str, tuple[list[Any], dict[str, float]]] = {}
    for day in days:
        for unit_name, bucket in day.items():
            found = sums.get(unit_name)
            if found is None:
                found = sums[unit_name] = ([0, None], {})
            counts, by_capability = found
            counts[0] += bucket["tickets"]
            if "untraced" in bucket:
                counts[1] = (counts[1] or 0.0) + bucket["untraced"]
            for cid, amount in bucket["by_capability"].items():
                by_capability[cid] = by_capability.get(cid, 0.0) + amount
    efforts = []
    for unit in Unit:
        if unit.value in sums:
            (tickets, untraced), by_capability = sums[unit.value]
            effort = UnitEffort(unit)
            effort.add_sums(tickets, untraced, by_capability, goals)
            efforts.append(effort.as_dict())
    return efforts
