"""Pure data for `bmmsync explain KEY`: the ticket's chain as a tree, or where it breaks.

The tree reads top-down from the ticket: ticket -> [ancestors it inherits through] ->
capability (with provenance) -> decisions -> motivators, each node with its status and
whether that step holds. Rendering (Rich) is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bmmsync.domain import Finding, Status, Ticket
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import Judge, Verdict
from bmmsync.trace.reasons import Reason
from bmmsync.trace.resolve import Resolver
from bmmsync.trace.rules import MappingRules

_BREAKS_AT_MOTIVATOR = {Reason.RETIRED_MOTIVATOR.value, Reason.MOTIVATOR_REVIEW_OVERDUE.value}


@dataclass(frozen=True, slots=True)
class ExplainNode:
    """One step of the chain. `kind`: ticket, ancestor, missing-parent, loop, capability,
    unknown-capability, decision, motivator. `ok` is False where the chain breaks."""

    kind: str
    id: str
    title: str = ""
    status: str = ""
    provenance: str = ""
    ok: bool = True
    children: tuple[ExplainNode, ...] = ()

    def walk(self) -> list[ExplainNode]:
        """Every node, depth first (iterative: trees from deep parent chains stay safe)."""
        out: list[ExplainNode] = []
        stack: list[ExplainNode] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


@dataclass(frozen=True, slots=True)
class Explanation:
    key: str
    source: str
    verdict: Verdict
    tree: ExplainNode
    findings: tuple[Finding, ...]

    @property
    def traced(self) -> bool:
        return self.verdict.traced

    @property
    def broken_step(self) -> str | None:
        """The reason code of the step where the chain breaks, or None when it holds."""
        primary = self.verdict.primary
        return primary.reason if primary is not None else None

    @property
    def suggestion(self) -> str:
        primary = self.verdict.primary
        return primary.suggestion if primary is not None else ""


def explain(
    key: str,
    tickets: Sequence[Ticket],
    index: MapIndex,
    rules: MappingRules,
    today: date,
    source: str | None = None,
) -> Explanation | None:
    """Explain ticket `key` (of `source`, if several sources share keys); None if unknown.

    `tickets` should hold at least the ticket's source (its project's usage shapes the
    no-capability suggestion, its ancestors the inheritance).
    """
    candidates = [t for t in tickets if t.key == key and (source is None or t.source == source)]
    if not candidates:
        return None
    ticket = candidates[0]
    same_source = [t for t in tickets if t.source == ticket.source]
    judge = Judge(index, rules, today)
    verdicts = judge.judge(same_source)
    verdict = next(v for v in verdicts if v.key == key)
    keyed: dict[str, Ticket] = {}
    for t in same_source:
        keyed.setdefault(t.key, t)
    resolver = Resolver(index, rules, keyed)
    tree = _TreeBuilder(index, rules, judge, resolver, verdict).build(ticket)
    return Explanation(key, ticket.source, verdict, tree, verdict.findings)


class _TreeBuilder:
    def __init__(
        self,
        index: MapIndex,
        rules: MappingRules,
        judge: Judge,
        resolver: Resolver,
        verdict: Verdict,
    ) -> None:
        self.index = index
        self.rules = rules
        self.judge = judge
        self.resolver = resolver
        self.verdict = verdict
        self.reasons = set(verdict.reasons)

    def build(self, ticket: Ticket) -> ExplainNode:
        verdict = self.verdict
        status = "open" if verdict.in_scope else f"out of scope ({verdict.scope_reason})"
        if not verdict.in_scope:
            return ExplainNode("ticket", ticket.key, ticket.title, status)
        path = [ticket.key, *self.resolver.ancestors(ticket)]
        tickets = self.resolver.tickets
        last = path[-1]
        children: tuple[ExplainNode, ...]
        if len(path) > 1 and last not in tickets:
            children = (ExplainNode("missing-parent", last, "", "never synced", ok=False),)
            path.pop()
        elif len(path) > 1 and last in path[:-1]:
            children = (ExplainNode("loop", last, "", "parent loop", ok=False),)
            path.pop()
        else:
            children = self._own_children(tickets.get(last))
        traced = verdict.traced
        for position in range(len(path) - 1, -1, -1):
            found = tickets.get(path[position])
            title = found.title if found is not None else ""
            if position == 0:
                node = ExplainNode("ticket", path[0], title, status, "", traced, children)
            else:
                state = "closed" if found is not None and found.closed else "open"
                provenance = "parent" if position == 1 else "ancestor"
                node = ExplainNode(
                    "ancestor", path[position], title, state, provenance, traced, children
                )
            children = (node,)
        return children[0]

    def _own_children(self, ticket: Ticket | None) -> tuple[ExplainNode, ...]:
        if ticket is None:
            return ()
        refs = self.resolver.own_refs(ticket)
        nodes: list[ExplainNode] = []
        seen: set[str] = set()
        for ref in refs.known:
            if ref.capability is None or ref.capability in seen:
                continue
            seen.add(ref.capability)
            nodes.append(self._capability(ref.capability, f"{ref.via.value} {ref.origin}"))
        for ref in refs.unknown:
            nodes.append(
                ExplainNode(
                    "unknown-capability",
                    ref.raw,
                    "",
                    "not in the map",
                    f"{ref.via.value} {ref.origin}",
                    ok=False,
                )
            )
        return tuple(nodes)

    def _capability(self, cid: str, provenance: str) -> ExplainNode:
        index = self.index
        capability = index.capabilities[cid]
        _, problems = self.judge.chain_of(cid)
        broken = {p.reason for p in problems if p.severity.value == "error"}
        decisions: list[ExplainNode] = []
        for did in capability.decisions:
            decision = index.decisions.get(did)
            if decision is None:
                decisions.append(ExplainNode("decision", did, "", "undefined", ok=False))
                continue
            motivators = tuple(self._motivator(mid) for mid in decision.motivators)
            decision_ok = decision.status is Status.ACTIVE and any(m.ok for m in motivators)
            decisions.append(
                ExplainNode(
                    "decision",
                    did,
                    decision.name,
                    decision.status.value,
                    ok=decision_ok,
                    children=motivators,
                )
            )
        ok = capability.status is Status.ACTIVE and not broken
        return ExplainNode(
            "capability",
            cid,
            capability.name,
            capability.status.value,
            provenance,
            ok,
            tuple(decisions),
        )

    def _motivator(self, mid: str) -> ExplainNode:
        motivator = self.index.motivators.get(mid)
        if motivator is None:
            return ExplainNode("motivator", mid, "", "undefined", ok=False)
        status = motivator.status.value
        if motivator.status is Status.ACTIVE and motivator.review_overdue(self.judge.today):
            status = f"review overdue since {motivator.review_by}"
        return ExplainNode(
            "motivator", mid, motivator.name, status, ok=motivator.status is Status.ACTIVE
        )
