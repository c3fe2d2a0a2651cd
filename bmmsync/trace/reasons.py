"""The stable reason codes. Renamed never: trackers carry them in labels and comments.

`reason_table()` gives the rows the README renders (code, default severity, meaning).
"""

from __future__ import annotations

from enum import StrEnum

from bmmsync.domain import Severity


class Reason(StrEnum):
    """Why a ticket's trace link is broken (ticket reasons) or the map needs care (`map-*`)."""

    NO_CAPABILITY = "no-capability"
    UNKNOWN_CAPABILITY = "unknown-capability"
    AMBIGUOUS_CAPABILITY = "ambiguous-capability"
    RETIRED_CAPABILITY = "retired-capability"
    CAPABILITY_WITHOUT_DECISION = "capability-without-decision"
    DECISION_WITHOUT_MOTIVATOR = "decision-without-motivator"
    RETIRED_MOTIVATOR = "retired-motivator"
    MOTIVATOR_REVIEW_OVERDUE = "motivator-review-overdue"
    PARENT_MISSING = "parent-missing"
    PARENT_CYCLE = "parent-cycle"

    MAP_CAPABILITY_WITHOUT_DECISION = "map-capability-without-decision"
    MAP_DECISION_WITHOUT_MOTIVATOR = "map-decision-without-motivator"
    MAP_MOTIVATOR_WITHOUT_DECISION = "map-motivator-without-decision"
    MAP_CAPABILITY_WITHOUT_WORK = "map-capability-without-work"
    MAP_MOTIVATOR_REVIEW_OVERDUE = "map-motivator-review-overdue"
    MAP_TARGET_UNASSESSED = "map-target-unassessed"
    MAP_DANGLING_REFERENCE = "map-dangling-reference"
    MAP_KEY_CONFLICT = "map-key-conflict"

    @property
    def severity(self) -> Severity:
        """The default severity (motivator-review-overdue is configurable in the rules)."""
        return _INFO[self][0]

    @property
    def meaning(self) -> str:
        return _INFO[self][1]

    @property
    def is_map_reason(self) -> bool:
        return self.value.startswith("map-")


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

_INFO: dict[Reason, tuple[Severity, str]] = {
    Reason.NO_CAPABILITY: (_E, "Neither the ticket nor any ancestor names a capability."),
    Reason.UNKNOWN_CAPABILITY: (_E, "A label or field names a capability the map does not have."),
    Reason.AMBIGUOUS_CAPABILITY: (
        _E,
        "The ticket names more than one capability and the rules allow only one.",
    ),
    Reason.RETIRED_CAPABILITY: (_E, "The ticket's capability is retired."),
    Reason.CAPABILITY_WITHOUT_DECISION: (
        _E,
        "The capability is linked to no active decision.",
    ),
    Reason.DECISION_WITHOUT_MOTIVATOR: (
        _E,
        "The capability's decisions are linked to no motivator.",
    ),
    Reason.RETIRED_MOTIVATOR: (_E, "Every motivator the chain reaches is retired."),
    Reason.MOTIVATOR_REVIEW_OVERDUE: (
        _W,
        "Every active motivator the chain reaches is past its review date.",
    ),
    Reason.PARENT_MISSING: (
        _E,
        "The capability would be inherited from a parent that was never synced.",
    ),
    Reason.PARENT_CYCLE: (_E, "Parent links form a loop, so nothing can be inherited."),
    Reason.MAP_CAPABILITY_WITHOUT_DECISION: (_E, "Map: an active capability has no decision."),
    Reason.MAP_DECISION_WITHOUT_MOTIVATOR: (_E, "Map: an active decision has no motivator."),
    Reason.MAP_MOTIVATOR_WITHOUT_DECISION: (
        _W,
        "Map: an active motivator is answered by no decision.",
    ),
    Reason.MAP_CAPABILITY_WITHOUT_WORK: (
        _I,
        "Map: no open ticket works on an active capability.",
    ),
    Reason.MAP_MOTIVATOR_REVIEW_OVERDUE: (_W, "Map: a motivator is past its review date."),
    Reason.MAP_TARGET_UNASSESSED: (
        _W,
        "Map: a target's deadline has passed with no assessment on or after it.",
    ),
    Reason.MAP_DANGLING_REFERENCE: (
        _E,
        "Map: an entry refers to an id the map does not define.",
    ),
    Reason.MAP_KEY_CONFLICT: (
        _W,
        "Map: two capabilities share an id, alias or name (compared case-insensitively).",
    ),
}

SEVERITY_RANK: dict[Severity, int] = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def reason_table(include_map: bool = True) -> list[tuple[str, str, str]]:
    """Rows (code, default severity, meaning) in a stable order, for the README and `--help`."""
    return [
        (reason.value, reason.severity.value, reason.meaning)
        for reason in Reason
        if include_map or not reason.is_map_reason
    ]
