"""Which tickets to judge again after a sync touched some tickets or the map changed.

A ticket's verdict depends on itself, its ancestors (inheritance), the map entries its
capability chain reaches, and the rules. So after a sync the affected set is the changed
tickets plus all their descendants; after a map change it is every ticket whose resolution
or chain involves a capability whose chain (or whose id/alias/name lookup) changed.
Suggestions that quote per-project usage may lag until the next full check; that is the
only thing an incremental re-check does not refresh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from bmmsync.domain import Status, Ticket
from bmmsync.trace.index import MapIndex
from bmmsync.trace.resolve import Resolver
from bmmsync.trace.rules import MappingRules

TicketRef = tuple[str, str]
"""(source, key): keys are unique within a source only."""


class ChildrenIndex:
    """parent -> children, per source. Build once from the stored tickets; O(n)."""

    def __init__(self, tickets: Iterable[Ticket]) -> None:
        self._children: dict[TicketRef, list[str]] = defaultdict(list)
        for ticket in tickets:
            if ticket.parent_key:
                self._children[(ticket.source, ticket.parent_key)].append(ticket.key)

    def children(self, ref: TicketRef) -> list[str]:
        return self._children.get(ref, [])

    def with_descendants(self, changed: Iterable[TicketRef]) -> set[TicketRef]:
        """`changed` plus every descendant of each. Iterative; safe on cycles and depth."""
        seen: set[TicketRef] = set()
        stack = list(changed)
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            source = ref[0]
            stack.extend((source, child) for child in self._children.get(ref, ()))
        return seen


def _chain_signature(index: MapIndex, cid: str, today: date) -> object:
    """Everything about a capability's chain that can change a ticket's verdict, or the
    bot's comment on it (which names the decisions and motivators)."""
    capability = index.capabilities.get(cid)
    if capability is None:
        return None
    decisions: list[tuple[str, object]] = []
    for did in capability.decisions:
        decision = index.decisions.get(did)
        if decision is None:
            decisions.append((did, None))
            continue
        motivators: list[tuple[str, Status | None, str | None, bool | None]] = []
        for mid in decision.motivators:
            motivator = index.motivators.get(mid)
            if motivator is None:
                motivators.append((mid, None, None, None))
            else:
                overdue = motivator.review_overdue(today)
                motivators.append((mid, motivator.status, motivator.name, overdue))
        decisions.append((did, (decision.status, decision.name, tuple(motivators))))
    successors = index.successors(cid) if capability.status is Status.RETIRED else ()
    return (capability.status, tuple(decisions), successors)


def changed_capabilities(
    old: MapIndex, new: MapIndex, today: date, since: date | None = None
) -> set[str]:
    """Capabilities whose chain differs between the two maps (added and removed included),
    the old one as judged on `since` (default `today`): a review date passed in between
    changes a verdict as a map edit does.

    Also those whose lookup changed: an id, alias or name that now names another capability
    or nothing, so labels resolve differently.
    """
    ids = set(old.capabilities) | set(new.capabilities)
    then = since or today
    changed = {
        cid for cid in ids if _chain_signature(old, cid, then) != _chain_signature(new, cid, today)
    }
    old_lookup, new_lookup = old.lookup_table(), new.lookup_table()
    for key in set(old_lookup) | set(new_lookup):
        before, after = old_lookup.get(key), new_lookup.get(key)
        if before != after:
            changed.update(cid for cid in (before, after) if cid is not None)
    return changed


def lookup_keys_changed(old: MapIndex, new: MapIndex) -> set[str]:
    """Normalised ids/aliases/names that name a different capability (or none) now."""
    old_lookup, new_lookup = old.lookup_table(), new.lookup_table()
    return {
        key
        for key in set(old_lookup) | set(new_lookup)
        if old_lookup.get(key) != new_lookup.get(key)
    }


def links_miss_map_change(old: MapIndex, new: MapIndex, rules: MappingRules) -> bool:
    """True when a map change can alter tickets that no stored link or finding points at:
    under a bare label pattern (`{id}`) a moved id, alias or name turns an ordinary label
    into a capability (or back), and only judging every ticket finds who carries it."""
    return any(p.bare for p in rules.label_patterns) and bool(lookup_keys_changed(old, new))


def tickets_for_map_change(
    old: MapIndex,
    new: MapIndex,
    tickets: Iterable[Ticket],
    rules: MappingRules,
    today: date,
    context: Mapping[str, Mapping[str, Ticket]] | None = None,
) -> set[TicketRef]:
    """Tickets to judge again after the map changed from `old` to `new`.

    A ticket is affected when, under either map, it resolves to a changed capability
    (own or inherited), or when its resolution differs between the maps (an unknown label
    that now names a capability, or the reverse). O(n) resolutions, no judging.
    """
    changed = changed_capabilities(old, new, today)
    if not changed and not lookup_keys_changed(old, new):
        return set()
    tickets = list(tickets)
    if context is None:
        keyed: dict[str, dict[str, Ticket]] = defaultdict(dict)
        for ticket in tickets:
            keyed[ticket.source].setdefault(ticket.key, ticket)
        context = keyed
    before = {source: Resolver(old, rules, by_key) for source, by_key in context.items()}
    after = {source: Resolver(new, rules, by_key) for source, by_key in context.items()}
    affected: set[TicketRef] = set()
    for ticket in tickets:
        source = ticket.source
        if source not in before:
            affected.add((source, ticket.key))
            continue
        old_resolution = before[source].resolve(ticket)
        new_resolution = after[source].resolve(ticket)
        if (
            changed.intersection(old_resolution.capabilities)
            or changed.intersection(new_resolution.capabilities)
            or old_resolution.capabilities != new_resolution.capabilities
            or len(old_resolution.unknown) != len(new_resolution.unknown)
        ):
            affected.add((source, ticket.key))
    return affected
