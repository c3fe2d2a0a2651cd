"""Judging the store: load the map and the tickets in bulk, judge in memory, record verdicts.

The one path from stored data to verdicts, shared by `check`, `explain`, `report`, the bot's
planner and the service. No per-ticket queries: tickets are read as streamed driver rows and
verdicts written with one `executemany` (SQLite) or `COPY` (PostgreSQL) per table.
`recheck` is the incremental path: after a sync it judges only what the sync can have changed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Text, delete, func, select, text
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from bmmsync.domain import LinkVia, Model, Severity, Ticket
from bmmsync.errors import StoreError
from bmmsync.gc_pause import gc_paused
from bmmsync.outcomes.effort import Delivered, GoalMap, SizeRule, work_of
from bmmsync.outcomes.period import Period
from bmmsync.outcomes.velocity import velocity
from bmmsync.store.dashboard_repo import replace_aggregates
from bmmsync.store.driver import driver_rows
from bmmsync.store.flag_repo import copy_flag_dates
from bmmsync.store.map_repo import load_model
from bmmsync.store.measurement_repo import all_measurements
from bmmsync.store.models import SORT_TITLE_CHARS, ProblemRow, TraceLinkRow, VerdictRow
from bmmsync.store.snapshot_repo import add_snapshot
from bmmsync.store.ticket_repo import children_of, iter_tickets, tickets_by_id
from bmmsync.store.upsert import BATCH_ROWS, key_batches
from bmmsync.trace.incremental import changed_capabilities, lookup_keys_changed
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import Verdict, judge, tickets_by_source
from bmmsync.trace.metrics import compute_metrics
from bmmsync.trace.rules import MappingRules
from bmmsync.web.aggregates import compute_aggregates, delivered_by_day, with_window

TicketId = tuple[str, str]
"""(source, key): what identifies a ticket across trackers."""


@dataclass
class Judgement:
    """The map, the tickets and their verdicts (same order as `tickets`)."""

    model: Model
    index: MapIndex
    tickets: list[Ticket]
    verdicts: list[Verdict]
    rules: MappingRules


def judge_store(session: Session, rules: MappingRules, today: date) -> Judgement:
    """Judge every stored ticket (tickets marked gone are left out) against the stored map.

    Raises `StoreError` when the store holds no map: every ticket would look untraced."""
    model = load_model(session)
    if not model.capabilities and not model.motivators:
        raise StoreError(
            "the store holds no strategy map yet: run `bmmsync model sync` "
            "(`bmmsync sync` and `bmmsync run` load it too)"
        )
    index = MapIndex(model)
    with gc_paused():
        tickets = list(iter_tickets(session))
    return Judgement(model, index, tickets, judge(tickets, index, rules, today), rules)


def check_store(
    session: Session,
    rules: MappingRules,
    today: date,
    now: datetime,
    size: SizeRule | None = None,
) -> Judgement:
    """A full check: judge every stored ticket and replace the stored verdicts and links, and
    the dashboard's figures. What `bmmsync check` and each service run do. `size` is the
    configured size rule, for the delivered work the dashboard reads per unit."""
    judgement = judge_store(session, rules, today)
    titles = titles_of(judgement.tickets, judgement.verdicts)
    record_verdicts(session, judgement.verdicts, now, replace_all=True, titles=titles)
    figures = dashboard_figures(judgement, today, size or SizeRule())
    # the window ends on the day the pages are asked (the check's clock), not on `today`
    figures = with_window(figures, GoalMap.of(judgement.model), now.date(), DELIVERY_DAYS)
    replace_aggregates(session, figures, now)
    return judgement


def dashboard_figures(judgement: Judgement, today: date, size: SizeRule) -> dict[str, Any]:
    """The dashboard's per-scope figures, and the work closed on each of the last
    `REPORT_DAYS` days (judged as if open, as `bmmsync report` counts it), so that no page
    judges tickets per request."""
    first = today - timedelta(days=REPORT_DAYS - 1)
    cutoff = today - timedelta(days=DELIVERY_DAYS)
    closed = [t for t in judgement.tickets if t.closed_at and t.closed_at.date() >= first]
    judged = judged_as_open(judgement, closed, today)
    recent = [(v, t) for t, v in judged if t.closed_at and t.closed_at.date() >= cutoff]
    figures = compute_aggregates(judgement.verdicts, judgement.tickets, recent)
    return figures | delivered_by_day(delivered_item(t, v, size) for t, v in judged)


_VERDICT_COLUMNS = ("source", "key", "in_scope", "scope_reason", "traced", "reason", "problem_id",
                    "sort_title", "project", "checked_at")  # fmt: skip
_PROBLEM_COLUMNS = ("id", "digest", "reason", "severity", "detail", "suggestion", "findings")
_LINK_COLUMNS = ("source", "key", "capability", "via", "origin")

Shape = tuple[tuple[str, str, str, str], ...]
"""A verdict's findings as (reason, severity, detail, suggestion): what a problem row holds."""

Row = tuple[Any, ...]


_SEVERITY = {severity: severity.value for severity in Severity}
_VIA = {via: via.value for via in LinkVia}
"""Enum values by member: a dict lookup costs a tenth of `.value` (an enum property)."""


def _shape(verdict: Verdict) -> Shape:
    findings = verdict.findings
    if len(findings) == 1:
        f = findings[0]
        return ((f.reason, _SEVERITY[f.severity], f.detail, f.suggestion),)
    return tuple([(f.reason, _SEVERITY[f.severity], f.detail, f.suggestion) for f in findings])


def _problem_text(shape: Shape) -> tuple[str, str]:
    """The findings JSON a problem row stores, and its digest (what makes it unique)."""
    text = json.dumps(
        [{"reason": r, "severity": s, "detail": d, "suggestion": g} for r, s, d, g in shape]
    )
    return text, hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Problems:
    """Problem ids by findings shape (and stored ones by digest): the known ones, and those
    this write must insert."""

    ids: dict[Shape, int]
    digests: dict[str, int]
    new: list[tuple[Any, ...]]
    next_id: int

    def id_of(self, shape: Shape) -> int:
        found = self.ids.get(shape)
        if found is not None:
            return found
        text, digest = _problem_text(shape)
        found = self.digests.get(digest)
        if found is None:
            found, self.next_id = self.next_id, self.next_id + 1
            reason, severity, detail, suggestion = shape[0]
            self.new.append((found, digest, reason, severity, detail, suggestion, text))
        self.ids[shape] = found
        return found


def titles_of(
    tickets: Sequence[Ticket], verdicts: Sequence[Verdict] | None = None
) -> dict[TicketId, str]:
    """The sort keys `record_verdicts` copies onto verdict rows, by ticket: given the
    tickets' `verdicts` (same order), only of those that get a row (about half of a backlog:
    ~55 MB less at a million tickets). Built with the GC paused: a million new keys would
    trigger collections over the whole judgement."""
    with gc_paused():
        if verdicts is None:
            return {(t.source, t.key): t.title[:SORT_TITLE_CHARS] for t in tickets}
        return {
            (t.source, t.key): t.title[:SORT_TITLE_CHARS]
            for t, v in zip(tickets, verdicts, strict=True)
            if _has_row(v)
        }


def _has_row(verdict: Verdict) -> bool:
    """Whether a verdict is stored as a row: out of scope or with findings (`VerdictRow`)."""
    return not verdict.in_scope or bool(verdict.findings)


def _verdict_rows(
    verdicts: Iterable[Verdict], problems: _Problems, titles: Mapping[TicketId, str]
) -> set[Row]:
    """Rows in `_VERDICT_COLUMNS` order (without `checked_at`) for the exceptions only:
    tickets out of scope or with findings. An in-scope ticket without findings (most of a
    backlog) gets no row. /review's sort keys (title, project) are part of the row, so a
    retitled ticket's row is written again."""
    rows: set[Row] = set()
    add = rows.add
    for v in verdicts:  # `_has_row`, inlined
        findings = v.findings
        if not findings:
            if not v.in_scope:
                add((v.source, v.key, False, v.scope_reason, False, None, None,
                     titles.get((v.source, v.key)), v.project))  # fmt: skip
            continue
        shape = _shape(v)
        add((v.source, v.key, v.in_scope, v.scope_reason, v.traced, shape[0][0],
             problems.id_of(shape), titles.get((v.source, v.key)), v.project))  # fmt: skip
    return rows


def _stored_problems(session: Session) -> _Problems:
    """Every stored problem id by digest: a full check keeps the ids of problems still found
    (renumbering would rewrite every verdict row), digesting each distinct shape once."""
    query = select(ProblemRow.digest, ProblemRow.id)
    digests: dict[str, int] = {digest: pid for digest, pid in session.execute(query)}
    return _Problems({}, digests, [], max(digests.values(), default=0) + 1)


def _known_problems(session: Session, verdicts: list[Verdict]) -> _Problems:
    """The stored problems that `verdicts` share (an incremental write reuses their ids)."""
    wanted: dict[str, Shape] = {}
    for v in verdicts:
        if v.findings:
            shape = _shape(v)
            wanted[_problem_text(shape)[1]] = shape
    ids: dict[Shape, int] = {}
    digests = sorted(wanted)
    for start in range(0, len(digests), BATCH_ROWS):
        query = select(ProblemRow.digest, ProblemRow.id).where(
            ProblemRow.digest.in_(digests[start : start + BATCH_ROWS])
        )
        ids.update((wanted[digest], pid) for digest, pid in session.execute(query))
    top = session.scalar(select(func.max(ProblemRow.id))) or 0
    return _Problems(ids, {}, [], top + 1)


def _link_rows(verdicts: Iterable[Verdict], parts: int, part: int) -> set[Row]:
    """Rows in `_LINK_COLUMNS` order: one per ticket and capability (the primary key), of
    the tickets in `part` of `parts` (see `_part_of`)."""
    via = _VIA
    rows: set[Row] = set()
    add = rows.add
    for v in verdicts:
        links = v.links
        if not links:
            continue
        key = v.key
        if parts > 1 and (ord(key[-1]) if key else 0) % parts != part:  # _part_of, inlined
            continue
        if len(links) > 1:
            links = tuple({link.capability: link for link in links}.values())
        for link in links:
            add((v.source, key, link.capability, via[link.via], link.origin))
    return rows


def _part_of(key: str, parts: int) -> int:
    """Which of `parts` a ticket's link rows are compared in: by the code point of its key's
    last character, which both databases compute too (`_PART_SQL`), so each part's stored
    rows are read on their own. Keys mostly end in a digit: the parts come out even."""
    return (ord(key[-1]) if key else 0) % parts


_PART_SQL = {
    "sqlite": "coalesce(unicode(substr(key, -1)), 0) % {parts} = {part}",
    "postgresql": "ascii(right(key, 1)) % {parts} = {part}",
}


def _sync_links(session: Session, verdicts: list[Verdict], idents: list[TicketId] | None) -> int:
    """Replace the changed trace-link rows, in parts of tickets of ~`_LINK_PART` tickets
    each: a million tickets' link rows, held at once beside the judgement, would cost
    ~100 MB. A full check reads each part's stored rows alone (they were read once per
    part: 2.6M rows for a million tickets). Returns the rows deleted and inserted."""
    parts = 1 + len(verdicts) // _LINK_PART
    dialect = session.get_bind().dialect.name
    written = 0
    for part in range(parts):
        where = _PART_SQL[dialect].format(parts=parts, part=part) if parts > 1 else ""
        stored = _stored_rows(session, "trace_links", _LINK_COLUMNS, idents, where)
        if parts > 1 and idents is not None:
            stored = (row for row in stored if _part_of(row[1], parts) == part)
        gone, new = _changes(stored, _link_rows(verdicts, parts, part))
        _delete_stored(session, "trace_links", ("source", "key", "capability"), gone)
        _insert_rows(session, TraceLinkRow, _LINK_COLUMNS, new)
        written += len(gone) + len(new)
    return written


_LINK_PART = 400_000


def _stored_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    idents: list[TicketId] | None,
    where: str = "",
) -> Iterator[Row]:
    """The stored rows of `table`: all of them (those matching `where`, SQL) or those of
    `idents`."""
    if idents is None:
        sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {where}" if where else "")
        yield from driver_rows(session, sql, stream=True)
        return
    model = VerdictRow if table == "verdicts" else TraceLinkRow
    chosen = [getattr(model, c) for c in columns]
    for source, chunk in key_batches(idents):
        query = select(*chosen).where(model.source == source, model.key.in_(chunk))
        yield from (tuple(row) for row in session.execute(query))


def _changes(stored: Iterable[Row], wanted: set[Row]) -> tuple[list[Row], set[Row]]:
    """What turns the `stored` rows into `wanted`: the stored rows to delete (changed or no
    longer wanted), and the rows to insert (`wanted` less what is stored, in place).
    Unchanged rows are neither deleted nor written again."""
    gone: list[Row] = []
    for row in stored:
        if row in wanted:  # SQLite's 0/1 equal (and hash as) False/True
            wanted.remove(row)
        else:
            gone.append(row)
    return gone, wanted


def _insert_rows(
    session: Session,
    table: type[VerdictRow | TraceLinkRow | ProblemRow],
    columns: Sequence[str],
    rows: Any,
) -> None:
    """Plain bulk INSERT through the driver, in the session's transaction: `executemany` on
    SQLite, `COPY` on PostgreSQL."""
    if isinstance(rows, Collection) and not rows:
        return
    name = cast(Table, table.__table__).name
    connection = session.connection()
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def _delete_rows(session: Session, idents: Iterable[TicketId]) -> None:
    for source, chunk in key_batches(idents):
        for table in (VerdictRow, TraceLinkRow):
            session.execute(delete(table).where(table.source == source, table.key.in_(chunk)))


def _delete_stored(session: Session, table: str, columns: Sequence[str], rows: list[Row]) -> None:
    """Delete `rows` of `table` by their first `columns` (its primary key), in one
    executemany."""
    if rows:
        where = " AND ".join(f"{c} = :{c}" for c in columns)
        params = [dict(zip(columns, row, strict=False)) for row in rows]
        session.execute(text(f"DELETE FROM {table} WHERE {where}"), params)


def record_verdicts(
    session: Session,
    verdicts: Iterable[Verdict],
    now: datetime,
    *,
    replace_all: bool,
    titles: Mapping[TicketId, str],
) -> int:
    """Store verdicts (the exceptions, see `VerdictRow`), their problems and trace links,
    writing only what differs from the stored rows: a check of an unchanged store writes
    nothing, and `checked_at` is when a ticket's verdict row took its current form.
    `replace_all` (a full check) also drops rows of tickets not judged this time and the
    problems no ticket has any more; otherwise only the judged tickets' rows are compared,
    and unused problems stay until the next full check. `titles` (`titles_of` the judged
    tickets) and the stored flags give the rows /review's sort keys. Returns the rows written
    or deleted."""
    verdicts = verdicts if isinstance(verdicts, list) else list(verdicts)
    session.flush()
    with gc_paused():  # the comparison builds a dict entry per row: no collection walks them
        return _record(session, verdicts, now, replace_all, titles)


def _record(
    session: Session,
    verdicts: list[Verdict],
    now: datetime,
    replace_all: bool,
    titles: Mapping[TicketId, str],
) -> int:
    dialect = session.get_bind().dialect
    idents = None if replace_all else [(v.source, v.key) for v in verdicts]
    problems = _stored_problems(session) if replace_all else _known_problems(session, verdicts)
    wanted = _verdict_rows(verdicts, problems, titles)
    used = {row[6] for row in wanted}
    stored = _stored_rows(session, "verdicts", _VERDICT_COLUMNS[:-1], idents)
    gone, new = _changes(stored, wanted)
    stamp = cast(Table, VerdictRow.__table__).c.checked_at.type.bind_processor(dialect)
    checked_at = stamp(now) if stamp else now
    if dialect.name == "sqlite" and isinstance(checked_at, datetime):
        checked_at = checked_at.isoformat(" ")  # the sqlite3 module's adapter, once, not per row
    _delete_stored(session, "verdicts", ("source", "key"), gone)
    unused = sorted(set(problems.digests.values()) - used) if replace_all else []
    for start in range(0, len(unused), BATCH_ROWS):
        chunk = unused[start : start + BATCH_ROWS]
        session.execute(delete(ProblemRow).where(ProblemRow.id.in_(chunk)))
    _insert_rows(session, ProblemRow, _PROBLEM_COLUMNS, problems.new)
    if new:  # a generator: a first check would otherwise copy ~half a row per ticket
        _insert_rows(session, VerdictRow, _VERDICT_COLUMNS, ((*r, checked_at) for r in new))
    written = len(gone) + len(new) + len(unused)
    # rows written now have no flag date yet; the flag writes keep the others' in step
    copy_flag_dates(session, None if replace_all else [(r[0], r[1]) for r in new])
    del wanted, new  # before the links' sets are built
    written += _sync_links(session, verdicts, idents)
    if replace_all and dialect.name == "postgresql" and written > _ANALYZE_AFTER:
        session.execute(text("ANALYZE verdicts, trace_links, problems"))
    return written


_ANALYZE_AFTER = 10_000
"""PostgreSQL's planner statistics are refreshed after a full check that wrote this many rows
(a first check, a rule change): an unchanged store's check writes nothing to analyse."""


@dataclass
class Recheck:
    """What an incremental re-check judged (verdicts of the affected tickets, recorded) and
    which tickets' rows it dropped because they are gone from the store."""

    verdicts: list[Verdict]
    dropped: list[TicketId]
    model: Model | None = None
    index: MapIndex | None = None
    tickets: list[Ticket] | None = None
    """The map judged against and the judged tickets as stored (what `verdicts` are of)."""


def _with_descendants(session: Session, changed: Iterable[TicketId]) -> set[TicketId]:
    """`changed` plus every stored descendant, one indexed query per level and source.
    Keys of gone or never-synced tickets are kept: their children must be judged again."""
    affected = set(changed)
    frontier = set(affected)
    while frontier:
        by_source: dict[str, list[str]] = {}
        for source, key in frontier:
            by_source.setdefault(source, []).append(key)
        frontier = set()
        for source, keys in by_source.items():
            for child in children_of(session, source, keys):
                ident = (child.source, child.key)
                if ident not in affected:
                    affected.add(ident)
                    frontier.add(ident)
    return affected


def _with_ancestors(session: Session, tickets: list[Ticket]) -> list[Ticket]:
    """`tickets` plus their stored ancestors, so inheritance resolves as in a full check."""
    loaded = {(t.source, t.key): t for t in tickets}
    wanted = {(t.source, t.parent_key) for t in tickets if t.parent_key} - loaded.keys()
    while wanted:
        found = tickets_by_id(session, wanted)
        for ticket in found:
            loaded[(ticket.source, ticket.key)] = ticket
        wanted = {(t.source, t.parent_key) for t in found if t.parent_key} - loaded.keys()
    return list(loaded.values())


def _rejudge(
    session: Session,
    rules: MappingRules,
    today: date,
    affected: set[TicketId],
    now: datetime | None,
    model: Model | None = None,
    index: MapIndex | None = None,
) -> Recheck:
    tickets = tickets_by_id(session, affected)
    context = _with_ancestors(session, tickets)
    index = index or MapIndex(model or load_model(session))
    model = index.model
    verdicts = [v for v in judge(context, index, rules, today) if (v.source, v.key) in affected]
    _keep_stored_suggestions(session, verdicts)
    judged = {(v.source, v.key) for v in verdicts}
    dropped = sorted(affected - judged)
    _delete_rows(session, dropped)
    titles = titles_of(tickets)
    record_verdicts(session, verdicts, now or datetime.now(UTC), replace_all=False, titles=titles)
    return Recheck(verdicts, dropped, model, index, tickets)


def _keep_stored_suggestions(session: Session, verdicts: list[Verdict]) -> None:
    """Where a ticket's problems are what the store already says, keep the stored
    suggestions: an incremental judge sees too few tickets to quote per-project usage, and a
    changed suggestion would edit the ticket's comment (and answer every webhook echo)."""
    stored: dict[TicketId, list[dict[str, Any]]] = {}
    for source, chunk in key_batches((v.source, v.key) for v in verdicts if v.findings):
        query = (
            select(VerdictRow.key, ProblemRow.findings)
            .join(ProblemRow, ProblemRow.id == VerdictRow.problem_id)
            .where(VerdictRow.source == source, VerdictRow.key.in_(chunk))
        )
        stored.update(((source, key), findings or []) for key, findings in session.execute(query))
    for i, v in enumerate(verdicts):
        old = stored.get((v.source, v.key))
        if not old or len(old) != len(v.findings):
            continue
        same = all(
            (f.reason, f.severity.value, f.detail)
            == (o.get("reason"), o.get("severity"), o.get("detail"))
            for f, o in zip(v.findings, old, strict=True)
        )
        if same:
            findings = tuple(
                replace(f, suggestion=str(o.get("suggestion") or ""))
                for f, o in zip(v.findings, old, strict=True)
            )
            verdicts[i] = replace(v, findings=findings)


def recheck(
    session: Session,
    rules: MappingRules,
    today: date,
    changed_keys: Iterable[TicketId],
    *,
    now: datetime | None = None,
    model: Model | None = None,
    index: MapIndex | None = None,
) -> Recheck:
    """Judge again the tickets a sync touched (`changed_keys`, gone ones included) and all
    their descendants, and replace their verdict rows; every other row is left untouched.

    Equal to a full check for those tickets, except that `no-capability` and
    `parent-missing` suggestions quoting per-project usage may lag until the next full
    check (see `bmmsync.trace.incremental`). `model` (or its `index`): the stored map, when
    the caller has it read already.
    """
    affected = _with_descendants(session, changed_keys)
    return _rejudge(session, rules, today, affected, now, model, index)


def recheck_map(
    session: Session,
    rules: MappingRules,
    today: date,
    before: Model,
    *,
    now: datetime | None = None,
) -> Recheck:
    """After the stored map changed from `before`: judge again the tickets linked to a
    capability whose chain or lookup changed, and, when ids/aliases/names moved, those with
    an unknown capability (a label may name something now). Uses the stored trace links, so
    it must follow a full check or recheck on the old map."""
    affected = map_changed_tickets(session, today, before)
    return _rejudge(session, rules, today, _with_descendants(session, affected), now)


def map_changed_tickets(
    session: Session,
    today: date,
    before: Model,
    since: date | None = None,
    *,
    model: Model | None = None,
) -> set[TicketId]:
    """The tickets `recheck_map` starts from (without descendants): those whose stored trace
    links reach a capability whose chain differs between `before` as judged on `since` and
    the stored map today (`model`, when the caller has just loaded it), and those with an
    unknown capability when a lookup key moved.

    Not bounded: a *bare* label pattern (`{id}`) turns an ordinary label into a capability
    when a name appears; no stored row says which tickets carry it (a full check does)."""
    model = model or load_model(session)
    if model == before and not _review_passed(model, since or today, today):
        return set()  # the map as judged then: no chain can have changed
    old, new = MapIndex(before), MapIndex(model)
    changed = sorted(changed_capabilities(old, new, today, since))
    affected: set[TicketId] = set()
    for start in range(0, len(changed), BATCH_ROWS):
        query = select(TraceLinkRow.source, TraceLinkRow.key).where(
            TraceLinkRow.capability.in_(changed[start : start + BATCH_ROWS])
        )
        affected.update((source, key) for source, key in session.execute(query))
    if lookup_keys_changed(old, new):
        query = (
            select(VerdictRow.source, VerdictRow.key)
            .join(ProblemRow, ProblemRow.id == VerdictRow.problem_id)
            .where(
                VerdictRow.in_scope,
                cast_(ProblemRow.findings, Text).like('%"unknown-capability"%'),
            )
        )
        affected.update((source, key) for source, key in session.execute(query))
    return affected


def _review_passed(model: Model, since: date, today: date) -> bool:
    """Whether a motivator's review date fell between `since` and `today`: its chains turn
    overdue, as if the map had changed."""
    first, last = sorted((since, today))
    return any(m.review_by is not None and first <= m.review_by < last for m in model.motivators)


def recheck_judgement(
    session: Session,
    rules: MappingRules,
    today: date,
    changed: Iterable[TicketId],
    now: datetime,
    *,
    model: Model | None = None,
    index: MapIndex | None = None,
) -> Judgement:
    """`recheck`, as the judgement the bot plans from: the re-judged tickets still stored.
    The one incremental path of the webhook worker and of incremental service runs; reads
    the map once (or not at all, given `model` or its `index`) and the tickets once."""
    result = recheck(session, rules, today, changed, now=now, model=model, index=index)
    assert result.model is not None and result.index is not None and result.tickets is not None
    tickets = {(t.source, t.key): t for t in result.tickets}
    verdicts = [v for v in result.verdicts if (v.source, v.key) in tickets]
    judged = [tickets[(v.source, v.key)] for v in verdicts]
    return Judgement(result.model, result.index, judged, verdicts, rules)


def summarise(judgement: Judgement) -> dict[str, Any]:
    """Counts for `check` and the run summary: in scope, traced, tickets by reason."""
    verdicts = judgement.verdicts
    in_scope = [v for v in verdicts if v.in_scope]
    traced = sum(1 for v in in_scope if v.traced)
    by_reason = Counter(f.reason for v in in_scope for f in v.findings)
    severity = {f.reason: f.severity.value for v in in_scope for f in v.findings}
    return {
        "tickets": len(verdicts),
        "in_scope": len(in_scope),
        "out_of_scope": len(verdicts) - len(in_scope),
        "traced": traced,
        "traceability": round(100 * traced / len(in_scope), 1) if in_scope else None,
        "by_reason": [
            {"reason": r, "severity": severity[r], "tickets": n}
            for r, n in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


VELOCITY_WINDOW = timedelta(days=28)
"""Each snapshot stores the velocity of the four weeks before it: the points of its trend."""


def store_snapshot(session: Session, judgement: Judgement, now: datetime) -> dict[str, Any]:
    """Compute the figures of a full judgement as of `now` and store them as one snapshot (the
    points `bmmsync report` draws trends from). Returns the stored figures."""
    measured = all_measurements(session)
    figures = compute_metrics(judgement.verdicts, judgement.index, now.date(), measured).as_dict()
    recent = Period(now - VELOCITY_WINDOW, now, "last 28d")
    figures["velocity"] = velocity(
        delivered_work(judgement, recent, SizeRule(), now.date()),
        GoalMap.of(judgement.model),
        recent,
    ).snapshot()
    add_snapshot(session, now, figures)
    return figures


def delivered_work(
    judgement: Judgement, period: Period, size: SizeRule, today: date
) -> list[Delivered]:
    """Tickets closed in `period` (by their stored closed date) with their work and, when
    traced, the capabilities their trace reaches. Closed tickets are judged as if open (same
    rules otherwise, parents from every stored ticket); pull requests, exempt tickets and
    ignored types are not delivered work. A ticket counts once, at its last closing."""
    closed = [t for t in judgement.tickets if t.closed_at is not None and t.closed_at in period]
    return [delivered_item(t, v, size) for t, v in judged_as_open(judgement, closed, today)]


def delivered_item(ticket: Ticket, verdict: Verdict, size: SizeRule) -> Delivered:
    """A closed ticket's work and, when traced, the capabilities its trace reaches."""
    assert ticket.closed_at is not None
    unit, amount = work_of(ticket, size)
    capabilities = (
        tuple(dict.fromkeys(c.capability for c in verdict.chain)) if verdict.traced else ()
    )
    return Delivered(ticket.source, ticket.key, ticket.closed_at, unit, amount, capabilities)


def judged_as_open(
    judgement: Judgement, closed: list[Ticket], today: date
) -> list[tuple[Ticket, Verdict]]:
    """`closed` tickets judged as if open (same rules otherwise, parents from every stored
    ticket), keeping those in scope: pull requests, exempt tickets and ignored types are not
    delivered work. Shared by velocity and the dashboard's delivery figures."""
    if not closed:
        return []
    rules = replace(judgement.rules, ignore_closed=False)
    context = tickets_by_source(judgement.tickets)
    verdicts = judge(closed, judgement.index, rules, today, context=context)
    return [(t, v) for t, v in zip(closed, verdicts, strict=True) if v.in_scope]


DELIVERY_DAYS = 90
"""The dashboard shows work closed in the last 90 days and its weekly velocity."""

REPORT_DAYS = 366
"""The longest window of `/report`: each check stores the work closed per day this far back."""
