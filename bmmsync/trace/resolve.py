"""Capability resolution: which capability a ticket works on, and where that came from.

Order: the ticket's own labels (every configured pattern) and its capability field; only if
the ticket names nothing itself, its parent's resolution (at any depth). The parent walk is
iterative with a memo shared by all tickets, so resolving n tickets costs O(n) in total and a
1,000-deep chain is as safe as a flat backlog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bmmsync.domain import LinkVia, Ticket, TraceLink, positional_factory
from bmmsync.trace.index import MapIndex
from bmmsync.trace.rules import MappingRules, normalise_text


@dataclass(frozen=True, slots=True)
class CapabilityRef:
    """One place on a ticket that names a capability.

    `capability` is the map id, or None when the reference names nothing the map knows.
    `origin` is the label text or the field name; `raw` is the text that was looked up.
    """

    via: LinkVia
    origin: str
    raw: str
    capability: str | None


@dataclass(frozen=True, slots=True, eq=False)
class OwnRefs:
    """What a ticket names itself, without looking at its parents.

    Compared and hashed by identity: resolvers share one per label set (and one for all
    label sets with the same capability labels), and the judge memoises what each comes to
    by it (a structural hash would cost more than the lookup).
    """

    known: tuple[CapabilityRef, ...] = ()
    unknown: tuple[CapabilityRef, ...] = ()
    exempt: bool = False
    capabilities: tuple[str, ...] = ()
    link_specs: tuple[tuple[str, LinkVia, str], ...] = ()

    @property
    def names_something(self) -> bool:
        return bool(self.known or self.unknown)


class ResolutionKind(StrEnum):
    OWN = "own"
    INHERITED = "inherited"
    NONE = "none"
    PARENT_MISSING = "parent-missing"
    PARENT_CYCLE = "parent-cycle"
    EXEMPT_ANCESTOR = "exempt-ancestor"


@dataclass(frozen=True, slots=True, eq=False)
class Terminal:
    """Where a parent walk ended; shared by every ticket whose walk ends there (compared and
    hashed by identity, so the judge can memoise per walk end)."""

    kind: ResolutionKind
    key: str
    refs: OwnRefs | None = None
    cycle: tuple[str, ...] = ()


@dataclass(slots=True)
class Resolution:
    """A ticket's capability links and, when there are none, why.

    `source_key` is the ticket that supplied the links (the ticket itself or an ancestor),
    the missing parent's key, the exempt ancestor, or the last ticket walked (NONE).
    `unknown` lists references that name no capability (with the ticket that holds them).
    Treat as immutable; not frozen only because one is built per ticket in the hot loop.
    """

    kind: ResolutionKind
    links: tuple[TraceLink, ...]
    unknown: tuple[CapabilityRef, ...]
    source_key: str
    cycle: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()


_EMPTY = OwnRefs()
_new_terminal = positional_factory(Terminal)


def _text_labels(labels: object) -> tuple[str, ...]:
    """The text labels of a label collection that may hold anything (never raises)."""
    if isinstance(labels, str):
        return (labels,)
    if not isinstance(labels, tuple | list | set | frozenset):
        return ()
    return tuple(label for label in labels if isinstance(label, str))


def field_texts(value: Any) -> tuple[list[str], list[str]]:
    """Readable texts in a capability field value, and descriptions of unreadable parts.

    Accepts a string, a select option (`{"value": ...}`, `{"name": ...}`), a list of those,
    or None. Anything else (numbers, other objects) is reported, never guessed at.
    """
    texts: list[str] = []
    bad: list[str] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is None:
            continue
        if isinstance(item, str):
            if item.strip():
                texts.append(item)
        elif isinstance(item, Mapping):
            for name in ("value", "name", "key"):
                inner = item.get(name)
                if isinstance(inner, str) and inner.strip():
                    texts.append(inner)
                    break
            else:
                bad.append(repr(dict(item))[:80])
        elif isinstance(item, list | tuple) and depth < 3:
            stack.extend((element, depth + 1) for element in reversed(item))
        else:
            bad.append(repr(item)[:80])
    return texts, bad


def _make_own_refs(
    known: list[CapabilityRef], unknown: list[CapabilityRef], exempt: bool
) -> OwnRefs:
    if not (known or unknown or exempt):
        return _EMPTY
    capabilities = tuple(dict.fromkeys(ref.capability for ref in known if ref.capability))
    specs = tuple((ref.capability, ref.via, ref.origin) for ref in known if ref.capability)
    return OwnRefs(tuple(known), tuple(unknown), exempt, capabilities, specs)


class Resolver:
    """Resolves tickets of one source. Not thread-safe; memoises labels, refs and walks."""

    def __init__(
        self,
        index: MapIndex,
        rules: MappingRules,
        tickets_by_key: Mapping[str, Ticket],
        label_memo: dict[tuple[str, ...], OwnRefs] | None = None,
    ) -> None:
        """`label_memo` may be shared by resolvers of one index and rule set (judge does)."""
        self.index = index
        self.rules = rules
        self.tickets = tickets_by_key
        self._patterns = rules.label_patterns
        self._exempt = rules.exempt_set
        self._label_cache: dict[str, tuple[bool, tuple[CapabilityRef, ...]]] = {}
        self._interned: dict[tuple[object, ...], OwnRefs] = {}
        self._field = rules.capability_field or None
        self._by_labels: dict[tuple[str, ...], OwnRefs] = (
            label_memo if label_memo is not None else {}
        )
        self._own: dict[str, OwnRefs] = {}
        self._walk: dict[str, Terminal] = {}

    def _parse_label(self, label: str) -> tuple[bool, tuple[CapabilityRef, ...]]:
        """(is exempt, the references the label holds) for one label; memoised."""
        cached = self._label_cache.get(label)
        if cached is not None:
            return cached
        text = normalise_text(label) if isinstance(label, str) else ""
        refs: list[tuple[str, str | None]] = []
        for pattern in self._patterns:
            raw = pattern.match(text)
            if raw is None:
                continue
            capability = self.index.find_capability(raw)
            if capability is None and pattern.bare:
                continue
            refs.append((raw, capability))
        known = [r for r in refs if r[1] is not None]
        held = tuple(
            CapabilityRef(LinkVia.LABEL, label, raw, capability)
            for raw, capability in dict.fromkeys(known or refs[:1])
        )
        result = (text in self._exempt, held)
        self._label_cache[label] = result
        return result

    def own_refs(self, ticket: Ticket) -> OwnRefs:
        """What `ticket` names itself: capability labels, the capability field, exemption.

        Memoised by label tuple (tickets share a handful of label combinations), and by key
        when the capability field holds a value.
        """
        field_name = self._field
        fields = ticket.fields
        value = None
        if field_name is not None and fields:
            value = fields.get(field_name) if isinstance(fields, dict) else None
        labels = ticket.labels
        if value is None:
            try:
                cached = self._by_labels.get(labels)
            except TypeError:  # a connector bug put a non-text label in: keep the text ones
                labels = _text_labels(labels)
                cached = self._by_labels.get(labels)
            if cached is None:
                cached = self._compute_own(labels, None)
                self._by_labels[labels] = cached
            return cached
        cached = self._own.get(ticket.key)
        if cached is None:
            cached = self._compute_own(labels, value)
            self._own[ticket.key] = cached
        return cached

    def _compute_own(self, labels: tuple[str, ...], value: Any) -> OwnRefs:
        """Label sets that differ only in ordinary labels (`bug`, `ux`) come to one shared
        `OwnRefs`, so what it comes to is judged once (the judge memoises by identity)."""
        labels = _text_labels(labels)
        known: list[CapabilityRef] = []
        unknown: list[CapabilityRef] = []
        exempt = False
        naming: list[str] = []
        for label in labels:
            is_exempt, refs = self._parse_label(label)
            exempt = exempt or is_exempt
            if refs:
                naming.append(label)
                for ref in refs:
                    (known if ref.capability else unknown).append(ref)
        if value is None:
            intern_key = (exempt, *naming)
            interned = self._interned.get(intern_key)
            if interned is None:
                interned = self._interned[intern_key] = _make_own_refs(known, unknown, exempt)
            return interned
        field_name = self._field
        if field_name is not None:
            texts, bad = field_texts(value)
            for text in texts:
                capability = self._field_capability(text)
                ref = CapabilityRef(LinkVia.FIELD, field_name, text, capability)
                (known if capability else unknown).append(ref)
            for description in bad:
                unknown.append(CapabilityRef(LinkVia.FIELD, field_name, description, None))
        return _make_own_refs(known, unknown, exempt)

    def _field_capability(self, text: str) -> str | None:
        """A field value may be an id, alias or name, or a whole label such as `cap:portal`."""
        capability = self.index.find_capability(text)
        if capability is None:
            normalised = normalise_text(text)
            for pattern in self._patterns:
                raw = pattern.match(normalised)
                if raw is not None and not pattern.bare:
                    capability = self.index.find_capability(raw)
                    if capability is not None:
                        break
        return capability

    def terminal(self, ticket: Ticket) -> Terminal:
        """Follow parents from `ticket` (itself included) until something names a capability
        or the walk stops; memoised for every ticket walked.

        Called for every ticket that inherits, so each step does the least: a ticket is
        looked up in the memo once, and a parent is fetched only when its walk is not known.
        """
        memo = self._walk
        key = ticket.key
        found = memo.get(key)
        if found is not None:
            return found
        tickets_get = self.tickets.get
        own_refs = self.own_refs
        inherit = self.rules.inherit_from_parent
        path: list[str] = []
        position: dict[str, int] = {}
        current: Ticket | None = ticket
        while True:
            if current is None:
                found = _new_terminal(ResolutionKind.PARENT_MISSING, key, None, ())
                break
            if key in position:
                loop = path[position[key] :]
                start = loop.index(min(loop))  # canonical: the same loop reads the same
                loop = loop[start:] + loop[:start]
                cycle = (*loop, loop[0])
                found = _new_terminal(ResolutionKind.PARENT_CYCLE, loop[0], None, cycle)
                break
            position[key] = len(path)
            path.append(key)
            refs = own_refs(current)
            if refs.exempt:
                # An exempt ancestor exempts its descendants, as exemption beats a label on
                # the ticket itself.
                found = _new_terminal(ResolutionKind.EXEMPT_ANCESTOR, key, None, ())
                break
            if refs.known or refs.unknown:
                found = _new_terminal(ResolutionKind.OWN, key, refs, ())
                break
            parent = current.parent_key
            if not inherit or not parent:
                found = _new_terminal(ResolutionKind.NONE, key, None, ())
                break
            key = parent
            found = memo.get(key)
            if found is not None:
                break
            current = tickets_get(key)
        for walked in path:
            memo[walked] = found
        return found

    def resolve(self, ticket: Ticket, own: OwnRefs | None = None) -> Resolution:
        """The ticket's capability links with provenance, or why it has none.

        `own` may pass in `own_refs(ticket)` when the caller already has it.
        """
        refs = own if own is not None else self.own_refs(ticket)
        key = ticket.key
        if refs.known or refs.unknown:
            specs = refs.link_specs
            if len(specs) == 1:
                capability, via, origin = specs[0]
                links: tuple[TraceLink, ...] = (TraceLink(key, capability, via, origin),)
            else:
                links = tuple([TraceLink(key, c, v, o) for c, v, o in specs])
            return Resolution(ResolutionKind.OWN, links, refs.unknown, key, (), refs.capabilities)
        if not ticket.parent_key or not self.rules.inherit_from_parent:
            kind = ResolutionKind.EXEMPT_ANCESTOR if refs.exempt else ResolutionKind.NONE
            return Resolution(kind, (), (), key)
        terminal = self.terminal(ticket)
        if terminal.kind is ResolutionKind.OWN and terminal.refs is not None:
            found = terminal.refs
            origin = terminal.key
            links = tuple(
                [TraceLink(key, cid, LinkVia.INHERITED, origin) for cid in found.capabilities]
            )
            return Resolution(
                ResolutionKind.INHERITED, links, found.unknown, origin, (), found.capabilities
            )
        return Resolution(terminal.kind, (), (), terminal.key, terminal.cycle)

    def ancestors(self, ticket: Ticket, limit: int = 10_000) -> list[str]:
        """Keys walked from `ticket` up to where resolution ended (for `explain`)."""
        out: list[str] = []
        seen = {ticket.key}
        current: Ticket | None = ticket
        while current is not None:
            refs = self.own_refs(current)
            if (refs.exempt and current is not ticket) or refs.names_something:
                break
            parent = current.parent_key
            if not self.rules.inherit_from_parent or not parent or len(out) >= limit:
                break
            out.append(parent)
            if parent in seen:
                break
            seen.add(parent)
            current = self.tickets.get(parent)
        return out
