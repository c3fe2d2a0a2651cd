"""The Business Motivation Model and the backlog, as plain immutable values.

Everything else in bmmsync (trace rules, planner, store, connectors) speaks in these types.
Standard library only, so the pure core stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

_T = TypeVar("_T")


class MotivatorKind(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Status(StrEnum):
    """Lifecycle of a map entry. Entries are retired, never deleted, so history stays."""

    ACTIVE = "active"
    RETIRED = "retired"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LinkVia(StrEnum):
    """Where a ticket's capability came from."""

    LABEL = "label"
    FIELD = "field"
    INHERITED = "inherited"


@dataclass(frozen=True, slots=True)
class Target:
    metric: str
    target: str
    by: date | None = None


@dataclass(frozen=True, slots=True)
class Motivator:
    id: str
    name: str
    kind: MotivatorKind = MotivatorKind.INTERNAL
    description: str = ""
    owner: str = ""
    targets: tuple[Target, ...] = ()
    review_by: date | None = None
    status: Status = Status.ACTIVE

    def review_overdue(self, today: date) -> bool:
        """Past its review date (due on `review_by`, overdue from the day after)."""
        return self.review_by is not None and self.review_by < today


@dataclass(frozen=True, slots=True)
class Assessment:
    motivator: str
    date: date
    statement: str
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Measurement:
    """A key result's value on a date: `bmmsync model measure`, or an import."""

    motivator: str
    metric: str
    at: date
    value: float


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    name: str
    motivators: tuple[str, ...] = ()
    status: Status = Status.ACTIVE


@dataclass(frozen=True, slots=True)
class Capability:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    parent: str | None = None
    status: Status = Status.ACTIVE


@dataclass(frozen=True, slots=True)
class Action:
    capability: str
    description: str


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    kind: str = ""
    actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """The whole motivator/decision/capability map."""

    motivators: tuple[Motivator, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    decisions: tuple[Decision, ...] = ()
    capabilities: tuple[Capability, ...] = ()
    actions: tuple[Action, ...] = ()
    resources: tuple[Resource, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticket:
    """A backlog item as a tracker shows it.

    `key` is `owner/repo#N` on GitHub and `KEY-N` on Jira; `parent_key` uses the same form.
    `fields` holds tracker-specific values by field name (for example the Jira "Capability"
    custom field, or the GitHub issue type under "type"). `closed_at` is when it was last
    closed (GitHub `closed_at`, Jira `resolutiondate`); None while open.
    """

    source: str
    key: str
    title: str
    url: str = ""
    type: str = ""
    state: str = "open"
    labels: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    parent_key: str | None = None
    assignee: str | None = None
    project: str = ""
    story_points: float | None = None
    created: datetime | None = None
    updated: datetime | None = None
    closed: bool = False
    is_pull_request: bool = False
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TraceLink:
    """Ticket -> capability, with where the link came from.

    `origin` is the label text, the field name, or the ancestor key it was inherited from.
    """

    ticket: str
    capability: str
    via: LinkVia
    origin: str

    @property
    def provenance(self) -> str:
        if self.via is LinkVia.INHERITED:
            return f"inherited from {self.origin}"
        return f"{self.via.value} {self.origin}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with a ticket's trace (or with the map, when `ticket` is empty)."""

    ticket: str
    reason: str
    severity: Severity
    detail: str
    suggestion: str = ""
    source: str = ""


def positional_factory(cls: type[_T]) -> Callable[..., _T]:
    """A `cls(...)` equivalent taking every field positionally, that fills the slots directly.

    A frozen dataclass sets each field through `object.__setattr__`, about twice the cost of
    a plain slot store: seconds per million objects where the trace engine and the store
    build one per ticket. The result is an equal object; no defaults, no `__post_init__`.
    Only for `slots=True` dataclasses (the generated code follows the class's field list).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, name in enumerate(names):
        scope[f"_set{i}"] = getattr(cls, name).__set__
    params = ", ".join(f"a{i}" for i in range(len(names)))
    body = "".join(f"    _set{i}(obj, a{i})\n" for i in range(len(names)))
    exec(f"def new({params}):\n    obj = _new(_cls)\n{body}    return obj\n", scope)
    return scope["new"]  # type: ignore[no-any-return]
