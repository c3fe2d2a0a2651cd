"""`MapIndex`: the motivator/decision/capability map, indexed once for fast, repeated lookups."""

from __future__ import annotations

import difflib
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import chain, islice

from bmmsync.domain import Assessment, Capability, Decision, Model, Motivator, Status
from bmmsync.trace.rules import normalise_key


def _bigrams(text: str) -> frozenset[str]:
    padded = f" {text} "
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


@dataclass(frozen=True, slots=True)
class KeyConflict:
    """Two capabilities answer to the same normalised key; `winner` is the one lookups return."""

    key: str
    winner: str
    losers: tuple[str, ...]


class MapIndex:
    """Dicts by id, capability lookup by id/alias/name, and the forward and reverse links.

    Lookup precedence: an id beats an alias beats a name, then the lowest id wins; conflicts
    are kept in `conflicts` for the admins' map findings. Built once per judge run: O(map).
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.motivators: dict[str, Motivator] = {m.id: m for m in model.motivators}
        self.decisions: dict[str, Decision] = {d.id: d for d in model.decisions}
        self.capabilities: dict[str, Capability] = {c.id: c for c in model.capabilities}

        by_motivator: dict[str, list[Assessment]] = defaultdict(list)
        for assessment in model.assessments:
            by_motivator[assessment.motivator].append(assessment)
        self.assessments: dict[str, tuple[Assessment, ...]] = {
            mid: tuple(sorted(items, key=lambda a: a.date)) for mid, items in by_motivator.items()
        }

        decisions_for: dict[str, list[str]] = defaultdict(list)
        for decision in sorted(model.decisions, key=lambda d: d.id):
            for mid in decision.motivators:
                decisions_for[mid].append(decision.id)
        self.decisions_for_motivator: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in decisions_for.items()
        }
        capabilities_for: dict[str, list[str]] = defaultdict(list)
        children: dict[str, list[str]] = defaultdict(list)
        for capability in sorted(model.capabilities, key=lambda c: c.id):
            for did in capability.decisions:
                capabilities_for[did].append(capability.id)
            if capability.parent:
                children[capability.parent].append(capability.id)
        self.capabilities_for_decision: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in capabilities_for.items()
        }
        self.child_capabilities: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in children.items()
        }

        self._lookup: dict[str, str] = {}
        self._display: dict[str, str] = {}
        self.conflicts: tuple[KeyConflict, ...] = self._build_lookup(model.capabilities)
        self._close_cache: dict[str, tuple[str, ...]] = {}
        self._postings: dict[str, list[str]] | None = None
        self._sizes: dict[str, int] = {}
        self._size_range = (0, 0)
        self._by_key_desc: list[str] = []
        self._successors: dict[str, tuple[str, ...]] = {}
        self._alias_holders: dict[str, list[str]] | None = None

    def _build_lookup(self, capabilities: tuple[Capability, ...]) -> tuple[KeyConflict, ...]:
        claims: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for capability in capabilities:
            claims[normalise_key(capability.id)].append((0, capability.id, capability.id))
            for alias in capability.aliases:
                claims[normalise_key(alias)].append((1, capability.id, alias))
            claims[normalise_key(capability.name)].append((2, capability.id, capability.name))
        conflicts: list[KeyConflict] = []
        for key, found in claims.items():
            if not key:
                continue
            found.sort()
            rank, winner, text = found[0]
            self._lookup[key] = winner
            if rank < 2:
                self._display[key] = text
            losers = tuple(sorted({cid for _, cid, _ in found if cid != winner}))
            if losers:
                conflicts.append(KeyConflict(key, winner, losers))
        return tuple(sorted(conflicts, key=lambda c: c.key))

    def lookup_table(self) -> dict[str, str]:
        """normalised id/alias/name -> capability id (a copy)."""
        return dict(self._lookup)

    def find_capability(self, text: str) -> str | None:
        """The id of the capability that `text` names (id, alias or name), or None."""
        return self._lookup.get(normalise_key(text))

    def did_you_mean(self, text: str, n: int = 3) -> tuple[str, ...]:
        """Closest capability ids and aliases to `text` (difflib), best first; memoised."""
        key = normalise_key(text)
        cached = self._close_cache.get(key)
        if cached is None:
            matches = difflib.get_close_matches(key, self._shortlist(key), n=n, cutoff=0.6)
            cached = tuple(self._display[m] for m in matches)
            self._close_cache[key] = cached
        return cached

    def _shortlist(self, key: str, size: int = 40) -> list[str]:
        """The `size` keys with the highest bigram overlap (Dice) with `key`, ties to the
        greater key: difflib is slow on 2,000. Only keys sharing a bigram are counted, found
        through an inverted index (bigram -> keys); the others score 0 and fill up.

        Of those, only keys that can reach the best `size` are scored: at least `size` keys
        share `level` bigrams or more, so each scores at least 2*level/(n + largest size),
        and a key sharing `count` scores at most 2*count/(n + smallest size).
        """
        if self._postings is None:
            postings: dict[str, list[str]] = defaultdict(list)
            for k in self._display:
                self._sizes[k] = len(grams := _bigrams(k))
                for gram in grams:
                    postings[gram].append(k)
            self._postings = dict(postings)
            self._by_key_desc = sorted(self._display, reverse=True)
            if self._sizes:
                self._size_range = (min(self._sizes.values()), max(self._sizes.values()))
        postings_get = self._postings.get
        wanted = _bigrams(key)
        shared = Counter(chain.from_iterable(postings_get(gram, ()) for gram in wanted))
        sizes, n = self._sizes, len(wanted)
        least = 0
        if len(shared) > size:
            keys_at = Counter(shared.values())
            reached = 0
            for level in sorted(keys_at, reverse=True):
                reached += keys_at[level]
                if reached >= size:
                    break
            smallest, largest = self._size_range
            least = -(-level * (n + smallest) // (n + largest))  # ceil, in integers
        scored = [(2 * count / (n + sizes[k]), k) for k, count in shared.items() if count >= least]
        if len(scored) < size:
            missing = size - len(scored)
            scored += islice(((0.0, k) for k in self._by_key_desc if k not in shared), missing)
        return [k for _, k in heapq.nlargest(size, scored)]

    def active_capability_ids(self) -> list[str]:
        return sorted(c.id for c in self.capabilities.values() if c.status is Status.ACTIVE)

    def active_motivator_ids(self) -> list[str]:
        return sorted(m.id for m in self.motivators.values() if m.status is Status.ACTIVE)

    def successors(self, capability_id: str) -> tuple[str, ...]:
        """Active capabilities to suggest instead of a retired one.

        Those that carry its id as an alias (a successor), its parent, and its children.
        """
        cached = self._successors.get(capability_id)
        if cached is not None:
            return cached
        if self._alias_holders is None:  # once per index, not a scan of the map per call
            holders: dict[str, list[str]] = defaultdict(list)
            for capability in sorted(self.capabilities.values(), key=lambda c: c.id):
                if capability.status is Status.ACTIVE:
                    for alias in dict.fromkeys(normalise_key(a) for a in capability.aliases):
                        holders[alias].append(capability.id)
            self._alias_holders = dict(holders)
        key = normalise_key(capability_id)
        found = [cid for cid in self._alias_holders.get(key, ()) if cid != capability_id]
        own = self.capabilities.get(capability_id)
        if own is not None and own.parent:
            parent = self.capabilities.get(own.parent)
            if parent is not None and parent.status is Status.ACTIVE:
                found.append(parent.id)
        for child in self.child_capabilities.get(capability_id, ()):
            if self.capabilities[child].status is Status.ACTIVE:
                found.append(child)
        result = tuple(dict.fromkeys(found))
        self._successors[capability_id] = result
        return result
