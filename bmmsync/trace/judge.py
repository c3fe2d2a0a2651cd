"""`judge()`: the one place that decides whether a ticket is traced, and if not, why.

For each ticket: scope first (pull requests, closed, ignored types, exempt labels, exempt
ancestors), then capability resolution (resolve.py), then the capability's chain
(capability -> active decisions -> motivators). Chains are judged once per capability and
suggestions once per project, so a million tickets cost a few seconds. Never raises on odd
ticket data: every oddity ends in a finding.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bmmsync.domain import (
    Finding,
    LinkVia,
    Severity,
    Status,
    Ticket,
    TraceLink,
    positional_factory,
)
from bmmsync.gc_pause import gc_paused
from bmmsync.trace.index import MapIndex
from bmmsync.trace.reasons import SEVERITY_RANK, Reason
from bmmsync.trace.resolve import CapabilityRef, OwnRefs, ResolutionKind, Resolver, Terminal
from bmmsync.trace.rules import MappingRules, normalise_text

SCOPE_PULL_REQUEST = "pull-request"
SCOPE_CLOSED = "closed"
SCOPE_IGNORED_TYPE = "ignored-type"
SCOPE_EXEMPT = "exempt"

CLOSED_STATES = frozenset({"closed", "Closed", "CLOSED"})
"""`Ticket.state` values that mean closed even when a connector left `closed` False."""
_REASON_ORDER = {reason.value: i for i, reason in enumerate(Reason)}


@dataclass(frozen=True, slots=True)
class Chain:
    """What a capability link actually reaches: its active decisions and their motivators."""

    capability: str
    decisions: tuple[str, ...] = ()
    motivators: tuple[str, ...] = ()


@dataclass(slots=True, eq=True)
class Verdict:
    """The judgement of one ticket. Out-of-scope tickets carry `scope_reason` and no findings.

    Treat as immutable. Not `frozen` on purpose: frozen dataclasses cost ~1.3 us more per
    instance in CPython, which is over a second per million tickets.

    `findings` are ordered most severe first, so `primary` is the one a comment leads with.
    """

    key: str
    source: str
    project: str
    in_scope: bool
    scope_reason: str | None
    links: tuple[TraceLink, ...]
    chain: tuple[Chain, ...]
    findings: tuple[Finding, ...]
    story_points: float | None = None

    @property
    def traced(self) -> bool:
        """In scope and no error-level finding (warnings do not break the trace)."""
        if not self.in_scope:
            return False
        # A plain loop: `any()` over a generator costs twice as much, on every verdict written.
        for finding in self.findings:  # noqa: SIM110
            if finding.severity is Severity.ERROR:
                return False
        return True

    @property
    def primary(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.reason for f in self.findings)


@dataclass(frozen=True, slots=True)
class _Problem:
    """A finding without its ticket: shared by every ticket that has the same problem."""

    reason: str
    severity: Severity
    detail: str
    suggestion: str

    def sort_key(self) -> tuple[int, int, str]:
        return (SEVERITY_RANK[self.severity], _REASON_ORDER.get(self.reason, 99), self.detail)

    def for_ticket(self, key: str, source: str) -> Finding:
        return _new_finding(key, self.reason, self.severity, self.detail, self.suggestion, source)


_new_link = positional_factory(TraceLink)
_new_finding = positional_factory(Finding)


@dataclass(frozen=True, slots=True)
class _Linked:
    """What a ticket comes to once it names (or inherits) capability references, whichever
    ticket it is: its link specs (capability, via, origin), capabilities, their chains and
    every problem, most severe first. Shared by all tickets with the same label set or the
    same parent-walk end, so most tickets cost a dict lookup and their own few objects."""

    specs: tuple[tuple[str, LinkVia, str], ...]
    capabilities: tuple[str, ...]
    chains: tuple[Chain, ...]
    problems: tuple[_Problem, ...]


def _ticks(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


class Judge:
    """Judges tickets against one map and one rule set; memoises per capability and project."""

    def __init__(self, index: MapIndex, rules: MappingRules, today: date) -> None:
        self.index = index
        self.rules = rules
        self.today = today
        self._chains: dict[str, tuple[Chain, tuple[_Problem, ...]]] = {}
        self._link_sets: dict[tuple[str, ...], tuple[tuple[Chain, ...], tuple[_Problem, ...]]] = {}
        self._unknown: dict[tuple[str, str, str, str], _Problem] = {}
        self._own_linked: dict[OwnRefs, _Linked] = {}
        self._inherited_linked: dict[Terminal, _Linked] = {}
        self._no_capability: dict[tuple[str, str, bool], _Problem] = {}
        self._usage: dict[str, dict[str, dict[tuple[str, ...], int]]] = {}
        self._examples_cache: dict[tuple[str, str], tuple[list[str], bool]] = {}

    # -- labels -------------------------------------------------------------------------
    def label(self, capability_id: str) -> str:
        return self.rules.render_label(capability_id)

    def labels(self, capability_ids: Iterable[str]) -> str:
        return ", ".join(f"`{self.label(c)}`" for c in capability_ids)

    # -- chain --------------------------------------------------------------------------
    def chain_of(self, capability_id: str) -> tuple[Chain, tuple[_Problem, ...]]:
        """The chain reached from one capability and what is wrong with it; memoised."""
        cached = self._chains.get(capability_id)
        if cached is None:
            cached = self._judge_capability(capability_id)
            self._chains[capability_id] = cached
        return cached

    def _judge_capability(self, cid: str) -> tuple[Chain, tuple[_Problem, ...]]:
        index = self.index
        capability = index.capabilities[cid]
        if capability.status is Status.RETIRED:
            alternatives = index.successors(cid)
            if alternatives:
                suggestion = (
                    f"Relabel with {self.labels(alternatives)} instead of `{self.label(cid)}`."
                )
            else:
                suggestion = (
                    f"Ask the map admins which capability replaced `{cid}` and relabel; "
                    "if none did, the item may no longer be needed."
                )
            detail = f"Capability `{cid}` ({capability.name}) is retired."
            return Chain(cid), (
                _Problem(Reason.RETIRED_CAPABILITY, Severity.ERROR, detail, suggestion),
            )

        active = tuple(
            did
            for did in dict.fromkeys(capability.decisions)
            if did in index.decisions and index.decisions[did].status is Status.ACTIVE
        )
        if not active:
            listed = f" (listed but retired or undefined: {_ticks(capability.decisions)})"
            detail = (
                f"Capability `{cid}` ({capability.name}) is linked to no active decision"
                + (listed if capability.decisions else "")
                + "."
            )
            suggestion = (
                f"Ask the map admins to link `{cid}` to the decision it serves, "
                "or relabel the ticket with a capability that has one."
            )
            problem = _Problem(
                Reason.CAPABILITY_WITHOUT_DECISION, Severity.ERROR, detail, suggestion
            )
            return Chain(cid), (problem,)

        reached: dict[str, None] = {}
        for did in active:
            for mid in index.decisions[did].motivators:
                if mid in index.motivators:
                    reached[mid] = None
        chain = Chain(cid, active, tuple(reached))
        if not reached:
            detail = f"Decision {_ticks(active)} behind `{cid}` is linked to no motivator."
            suggestion = (
                f"Ask the map admins to link {_ticks(active)} to the motivator it answers "
                "(or retire the decision)."
            )
            return chain, (
                _Problem(Reason.DECISION_WITHOUT_MOTIVATOR, Severity.ERROR, detail, suggestion),
            )
        live = [mid for mid in reached if index.motivators[mid].status is Status.ACTIVE]
        if not live:
            detail = f"Every motivator behind `{cid}` is retired: {_ticks(reached)}."
            suggestion = (
                f"Ask the map admins whether {_ticks(active)} still stands; "
                "if not, the item may no longer be needed."
            )
            return chain, (_Problem(Reason.RETIRED_MOTIVATOR, Severity.ERROR, detail, suggestion),)
        today = self.today
        overdue = [
            motivator
            for motivator in (index.motivators[mid] for mid in live)
            if motivator.review_overdue(today)
        ]
        if overdue and len(overdue) == len(live):
            detail = "Motivator review overdue: " + ", ".join(
                f"`{m.id}` (due {m.review_by})" for m in overdue
            )
            owners = sorted({m.owner for m in overdue if m.owner})
            who = f" ({', '.join(owners)})" if owners else ""
            suggestion = f"Ask the motivator owner{who} to review {_ticks(m.id for m in overdue)}."
            severity = self.rules.review_overdue_severity
            return chain, (_Problem(Reason.MOTIVATOR_REVIEW_OVERDUE, severity, detail, suggestion),)
        return chain, ()

    def chains_of(
        self, capabilities: tuple[str, ...]
    ) -> tuple[tuple[Chain, ...], tuple[_Problem, ...]]:
        cached = self._link_sets.get(capabilities)
        if cached is not None:
            return cached
        chains: list[Chain] = []
        problems: list[_Problem] = []
        for cid in capabilities:
            chain, found = self.chain_of(cid)
            chains.append(chain)
            problems.extend(found)
        if len(capabilities) > 1 and not self.rules.allow_multiple:
            detail = f"The ticket names {len(capabilities)} capabilities: {_ticks(capabilities)}."
            suggestion = (
                f"Keep one of {self.labels(capabilities)} and remove the others "
                "(or ask an admin to allow several capabilities per ticket)."
            )
            problems.append(
                _Problem(Reason.AMBIGUOUS_CAPABILITY, Severity.ERROR, detail, suggestion)
            )
        result = (tuple(chains), tuple(sorted(set(problems), key=_Problem.sort_key)))
        self._link_sets[capabilities] = result
        return result

    # -- resolution problems --------------------------------------------------------------
    def unknown_problem(self, ref: CapabilityRef, ancestor: str | None = None) -> _Problem:
        """A reference that names no capability, held by the ticket itself or by `ancestor`."""
        memo_key = (ref.via.value, ref.origin, ref.raw, ancestor or "")
        cached = self._unknown.get(memo_key)
        if cached is not None:
            return cached
        where = f" (on ancestor {ancestor})" if ancestor else ""
        if ref.via.value == "label":
            detail = f"Label `{ref.origin}` names no capability in the map{where}."
        elif any(ch in ref.raw for ch in "{}[]()") or ref.raw.isdigit():
            detail = (
                f"Field `{ref.origin}` holds {ref.raw}, which names no capability "
                f"(expected text, an option, or a list of options){where}."
            )
        else:
            detail = f"Field `{ref.origin}` holds `{ref.raw}`, which names no capability{where}."
        close = [
            self.index.find_capability(text) or text for text in self.index.did_you_mean(ref.raw)
        ]
        close = list(dict.fromkeys(close))
        if close:
            suggestion = "Did you mean " + " or ".join(f"`{self.label(c)}`" for c in close) + "?"
        else:
            some = self.index.active_capability_ids()[:5]
            suggestion = (
                f"Use a capability from the map (e.g. {self.labels(some)}), "
                f"or ask the map admins to add `{ref.raw}`."
            )
        if ancestor:
            suggestion += f" Fix it on {ancestor}, or label this ticket itself."
        problem = _Problem(Reason.UNKNOWN_CAPABILITY, Severity.ERROR, detail, suggestion)
        self._unknown[memo_key] = problem
        return problem

    def _examples(self, ticket: Ticket) -> tuple[list[str], bool]:
        """Up to 3 capabilities to suggest: the most used in the ticket's project (by the
        tickets judged in this run; ties by id), else the map's first active ones. The
        flag says whether they come from the project."""
        project_key = (ticket.source, ticket.project)
        cached = self._examples_cache.get(project_key)
        if cached is None:
            usage: dict[str, int] = {}
            by_capabilities = self._usage.get(ticket.source, {}).get(ticket.project, {})
            for capabilities, tickets in by_capabilities.items():
                for cid in capabilities:
                    usage[cid] = usage.get(cid, 0) + tickets
            if usage:
                ranked = heapq.nsmallest(3, usage.items(), key=lambda kv: (-kv[1], kv[0]))
                cached = ([cid for cid, _ in ranked], True)
            else:
                cached = (self.index.active_capability_ids()[:3], False)
            self._examples_cache[project_key] = cached
        return cached

    def parent_missing_problem(self, ticket: Ticket, missing: str) -> _Problem:
        examples, _ = self._examples(ticket)
        example = f" (e.g. `{self.label(examples[0])}`)" if examples else ""
        detail = f"Parent `{missing}` was never synced, so no capability can be inherited."
        suggestion = (
            f"Label this ticket itself{example}, or make sure bmmsync syncs the project "
            f"of `{missing}` (or fix the parent link)."
        )
        return _Problem(Reason.PARENT_MISSING, Severity.ERROR, detail, suggestion)

    def no_capability_problem(self, ticket: Ticket, walked_to: str) -> _Problem:
        has_parent = walked_to != ticket.key
        memo_key = (ticket.source, ticket.project, has_parent)
        cached = self._no_capability.get(memo_key)
        if cached is not None:
            return cached
        examples, from_project = self._examples(ticket)
        rules = self.rules
        parts = []
        if examples:
            parts.append(f"Add a label such as `{self.label(examples[0])}`")
            if len(examples) > 1:
                where = (
                    f"used in {ticket.project}" if from_project and ticket.project else "in the map"
                )
                parts[-1] += f" (others {where}: {self.labels(examples[1:])})"
        else:
            parts.append("Add a capability label")
        if rules.capability_field:
            parts[-1] += f" or set the `{rules.capability_field}` field"
        if rules.inherit_from_parent and not has_parent:
            parts.append("or put it under an epic/parent that has one")
        if rules.exempt_labels:
            parts.append(f"or add `{rules.exempt_labels[0]}` if the item needs no strategic trace")
        suggestion = "; ".join(parts) + "."
        detail = (
            "Neither this ticket nor its ancestors name a capability."
            if has_parent
            else "The ticket names no capability."
        )
        problem = _Problem(Reason.NO_CAPABILITY, Severity.ERROR, detail, suggestion)
        self._no_capability[memo_key] = problem
        return problem

    def _linked(
        self,
        specs: tuple[tuple[str, LinkVia, str], ...],
        capabilities: tuple[str, ...],
        problems: list[_Problem],
    ) -> _Linked:
        chains: tuple[Chain, ...] = ()
        if capabilities:
            chains, chain_problems = self.chains_of(capabilities)
            problems = [*problems, *chain_problems]
        if len(problems) > 1:
            problems = sorted(set(problems), key=_Problem.sort_key)
        return _Linked(specs, capabilities, chains, tuple(problems))

    def own_linked(self, own: OwnRefs) -> _Linked:
        """What a ticket that names `own` itself comes to; memoised per `OwnRefs`."""
        cached = self._own_linked.get(own)
        if cached is None:
            problems = [self.unknown_problem(ref) for ref in own.unknown]
            cached = self._linked(own.link_specs, own.capabilities, problems)
            self._own_linked[own] = cached
        return cached

    def inherited_linked(self, terminal: Terminal) -> _Linked:
        """What a ticket whose parent walk ends at `terminal` (own or cycle) comes to;
        memoised per walk end."""
        cached = self._inherited_linked.get(terminal)
        if cached is not None:
            return cached
        refs = terminal.refs
        if terminal.kind is ResolutionKind.PARENT_CYCLE or refs is None:
            loop = " -> ".join(terminal.cycle)
            detail = f"Parent links form a loop: {loop}."
            suggestion = (
                f"Break the loop in the tracker, or label one of {_ticks(terminal.cycle[:-1])} "
                "with a capability."
            )
            cached = _Linked(
                (), (), (), (_Problem(Reason.PARENT_CYCLE, Severity.ERROR, detail, suggestion),)
            )
        else:
            origin = terminal.key
            specs = tuple((cid, LinkVia.INHERITED, origin) for cid in refs.capabilities)
            if refs.unknown:
                problems = [self.unknown_problem(ref, origin) for ref in refs.unknown]
                cached = self._linked(specs, refs.capabilities, problems)
            else:
                # Only unknown references quote the ancestor: otherwise the problems are
                # those of the ancestor itself, already worked out once per label set.
                own = self.own_linked(refs)
                cached = _Linked(specs, own.capabilities, own.chains, own.problems)
        self._inherited_linked[terminal] = cached
        return cached

    # -- the run --------------------------------------------------------------------------
    def judge(
        self,
        tickets: Sequence[Ticket],
        context: Mapping[str, Mapping[str, Ticket]] | None = None,
    ) -> list[Verdict]:
        """One verdict per ticket, in input order.

        Parents are looked up in `context` (source -> key -> ticket, see `tickets_by_source`)
        when given, else among `tickets`.
        """
        if context is None:
            context = tickets_by_source(tickets)
        with gc_paused():
            return self._judge(tickets, context)

    def _judge(
        self, tickets: Sequence[Ticket], context: Mapping[str, Mapping[str, Ticket]]
    ) -> list[Verdict]:
        """The hot loop: keep it lean (locals, memo lookups, one verdict, link and finding
        per ticket). Everything that does not depend on the ticket's own key is memoised
        per label set (`own_linked`) or per parent-walk end (`inherited_linked`)."""
        label_memo: dict[tuple[str, ...], OwnRefs] = {}
        resolvers: dict[str, Resolver] = {
            source: Resolver(self.index, self.rules, keyed, label_memo)
            for source, keyed in context.items()
        }
        for source in {ticket.source for ticket in tickets} - resolvers.keys():
            resolvers[source] = Resolver(self.index, self.rules, {}, label_memo)
        memo_get = label_memo.get if not self.rules.capability_field else None
        rules = self.rules
        ignore_closed = rules.ignore_closed
        ignored_types = rules.ignored_type_set
        inherit = rules.inherit_from_parent
        # Per run, as suggestions quote this run's tickets only: source -> project ->
        # capability ids -> tickets (one count per ticket; `_examples` adds up per id).
        usage = self._usage = {}
        projects: dict[str, dict[tuple[str, ...], int]] = {}
        own_linked_get = self._own_linked.get
        own_linked = self.own_linked
        inherited_linked_get = self._inherited_linked.get
        inherited_linked = self.inherited_linked
        new_link = _new_link
        new_finding = _new_finding
        own_kind = ResolutionKind.OWN
        cycle_kind = ResolutionKind.PARENT_CYCLE
        exempt_kind = ResolutionKind.EXEMPT_ANCESTOR
        missing_kind = ResolutionKind.PARENT_MISSING
        closed_states = CLOSED_STATES
        verdicts: list[Verdict] = []
        append = verdicts.append
        unlinked: list[tuple[Verdict, Ticket, str, bool]] = []

        def defer(ticket: Ticket, walked_to: str, missing: bool) -> None:
            """No capability: the finding waits until the end, as its suggestion quotes the
            capabilities used in the ticket's project by this run's tickets."""
            verdict = Verdict(
                ticket.key,
                ticket.source,
                ticket.project,
                True,
                None,
                (),
                (),
                (),
                ticket.story_points,
            )
            unlinked.append((verdict, ticket, walked_to, missing))
            append(verdict)

        last_source = None
        resolver: Resolver | None = None
        for ticket in tickets:
            source = ticket.source
            if source is not last_source:
                resolver = resolvers[source]
                projects = usage.setdefault(source, {})
                last_source = source
            assert resolver is not None
            own = None
            if memo_get is not None:
                try:
                    own = memo_get(ticket.labels)
                except TypeError:  # unhashable labels: own_refs copes
                    own = None
            if own is None:
                own = resolver.own_refs(ticket)
            key = ticket.key
            reason: str | None = None
            if ticket.is_pull_request:
                reason = SCOPE_PULL_REQUEST
            elif ignore_closed and (ticket.closed or ticket.state in closed_states):
                reason = SCOPE_CLOSED
            elif ignored_types and ticket.type and normalise_text(ticket.type) in ignored_types:
                reason = SCOPE_IGNORED_TYPE
            elif own.exempt:
                reason = SCOPE_EXEMPT
            if reason is not None:
                append(
                    Verdict(
                        key, source, ticket.project, False, reason, (), (), (), ticket.story_points
                    )
                )
                continue

            if own.known or own.unknown:
                # The ticket names its own capability: the common case, no parent walk.
                linked = own_linked_get(own) or own_linked(own)
            elif inherit and ticket.parent_key:
                terminal = resolver.terminal(ticket)
                kind = terminal.kind
                if kind is own_kind or kind is cycle_kind:
                    linked = inherited_linked_get(terminal) or inherited_linked(terminal)
                elif kind is exempt_kind:
                    append(
                        Verdict(
                            key,
                            source,
                            ticket.project,
                            False,
                            SCOPE_EXEMPT,
                            (),
                            (),
                            (),
                            ticket.story_points,
                        )
                    )
                    continue
                else:
                    defer(ticket, terminal.key, kind is missing_kind)
                    continue
            else:
                defer(ticket, key, False)
                continue

            capabilities = linked.capabilities
            links: tuple[TraceLink, ...] = ()
            if capabilities:
                counts = projects.get(ticket.project)
                if counts is None:
                    counts = projects[ticket.project] = {}
                counts[capabilities] = counts.get(capabilities, 0) + 1
                specs = linked.specs
                if len(specs) == 1:
                    cid, via, origin = specs[0]
                    links = (new_link(key, cid, via, origin),)
                else:
                    links = tuple([new_link(key, c, v, o) for c, v, o in specs])
            findings: tuple[Finding, ...] = ()
            problems = linked.problems
            if problems:
                if len(problems) == 1:
                    p = problems[0]
                    findings = (
                        new_finding(key, p.reason, p.severity, p.detail, p.suggestion, source),
                    )
                else:
                    findings = tuple(
                        [
                            new_finding(key, p.reason, p.severity, p.detail, p.suggestion, source)
                            for p in problems
                        ]
                    )
            append(
                Verdict(
                    key,
                    source,
                    ticket.project,
                    True,
                    None,
                    links,
                    linked.chains,
                    findings,
                    ticket.story_points,
                )
            )
        # Usage is final now: suggestions computed from here on may be memoised.
        self._examples_cache.clear()
        self._no_capability.clear()
        for verdict, ticket, walked_to, missing in unlinked:
            if missing:
                problem = self.parent_missing_problem(ticket, walked_to)
            else:
                problem = self.no_capability_problem(ticket, walked_to)
            verdict.findings = (problem.for_ticket(ticket.key, ticket.source),)
        return verdicts


def tickets_by_source(tickets: Iterable[Ticket]) -> dict[str, dict[str, Ticket]]:
    """source -> key -> ticket, the parent lookup. The first of duplicate keys wins.

    A backlog of one source without duplicate keys (the usual case) is one comprehension:
    the general loop costs a few percent of a whole judge run.
    """
    tickets = tickets if isinstance(tickets, list | tuple) else list(tickets)
    sources = {ticket.source for ticket in tickets}
    if len(sources) == 1:
        keyed = {ticket.key: ticket for ticket in tickets}
        if len(keyed) == len(tickets):
            return {sources.pop(): keyed}
    by_source: dict[str, dict[str, Ticket]] = defaultdict(dict)
    for ticket in tickets:
        by_source[ticket.source].setdefault(ticket.key, ticket)
    return dict(by_source)


def judge(
    tickets: Iterable[Ticket],
    model_index: MapIndex,
    rules: MappingRules,
    today: date,
    *,
    context: Mapping[str, Mapping[str, Ticket]] | None = None,
) -> list[Verdict]:
    """Judge every ticket; one Verdict per ticket, in input order. Never raises on odd data.

    Each verdict depends only on the ticket, its ancestors, the map and the rules, never on
    the input order. (One nuance: a no-capability suggestion names the capabilities most
    used in the ticket's project among the judged tickets.) Parents are looked up among
    `tickets` of the same source, or in `context` when given (incremental re-checks pass
    every stored ticket there and judge only the affected ones). A ticket whose parent is
    not found gets `parent-missing` if it needs to inherit.
    """
    return Judge(model_index, rules, today).judge(list(tickets), context)
