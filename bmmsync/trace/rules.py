"""The mapping rules (the config's `mapping:` block) as plain data, plus label/key normalisation.

Labels and field values come from people: `CAP: Portal`, `cap：portal` (full-width colon),
`Cap:Self Service Portal`. Everything that names a capability goes through `normalise_key`
so that ids, aliases, names, labels and field values compare equal when a person would say so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from bmmsync.domain import Severity

ID_PLACEHOLDER = "{id}"

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_text(text: str) -> str:
    """NFKC, case-folded, without invisible format characters (zero-width spaces, BOMs)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.isascii():
        folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return folded.strip()


def normalise_key(text: str) -> str:
    """The comparable form of a capability id, alias or name.

    Case, unicode width and runs of spaces, hyphens and underscores do not matter:
    `Self Service_Portal` and `self-service-portal` are the same key.
    """
    return _SEPARATORS.sub("-", normalise_text(text)).strip("-")


def _literal(part: str) -> str:
    """Regex for the literal part of a label pattern, tolerant of spacing around punctuation."""
    out: list[str] = []
    for ch in part:
        if ch.isspace():
            out.append(r"\s*")
        elif ch.isalnum():
            out.append(re.escape(ch))
        else:
            out.append(r"\s*" + re.escape(ch) + r"\s*")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class LabelPattern:
    """One configured label pattern such as `cap:{id}`, compiled.

    A *bare* pattern (`{id}` alone) would match every label, so for it only labels that name
    a known capability count; other labels are ordinary labels, not unknown capabilities.
    """

    pattern: str
    regex: re.Pattern[str]
    bare: bool

    @classmethod
    def compile(cls, pattern: str) -> LabelPattern:
        text = normalise_text(pattern)
        if text.count(ID_PLACEHOLDER) != 1:
            raise ValueError(
                f"label pattern {pattern!r} must contain {ID_PLACEHOLDER} exactly once"
            )
        prefix, _, suffix = text.partition(ID_PLACEHOLDER)
        regex = re.compile(
            r"^\s*" + _literal(prefix) + r"(?P<id>.+?)" + _literal(suffix) + r"\s*$", re.S
        )
        return cls(pattern, regex, bare=not (prefix.strip() or suffix.strip()))

    def match(self, normalised_label: str) -> str | None:
        """The capability reference inside a normalised label, or None if it does not match."""
        found = self.regex.match(normalised_label)
        if found is None:
            return None
        ref = found.group("id").strip()
        return ref or None

    def render(self, capability_id: str) -> str:
        return self.pattern.replace(ID_PLACEHOLDER, capability_id)


@dataclass(frozen=True)
class MappingRules:
    """Which labels and fields name a capability, and which tickets are in scope.

    Plain data: config.py validates the YAML and builds one of these.
    """

    capability_labels: tuple[str, ...] = ("cap:{id}",)
    capability_field: str | None = None
    inherit_from_parent: bool = True
    exempt_labels: tuple[str, ...] = ("no-trace",)
    ignore_types: tuple[str, ...] = ()
    ignore_closed: bool = True
    allow_multiple: bool = False
    review_overdue_severity: Severity = Severity.WARNING

    @cached_property
    def label_patterns(self) -> tuple[LabelPattern, ...]:
        return tuple(LabelPattern.compile(p) for p in self.capability_labels)

    @cached_property
    def exempt_set(self) -> frozenset[str]:
        return frozenset(normalise_text(label) for label in self.exempt_labels)

    @cached_property
    def ignored_type_set(self) -> frozenset[str]:
        return frozenset(normalise_text(kind) for kind in self.ignore_types)

    def render_label(self, capability_id: str) -> str:
        """How a team writes a label for `capability_id`, by the first configured pattern."""
        if self.label_patterns:
            return self.label_patterns[0].render(capability_id)
        return capability_id
