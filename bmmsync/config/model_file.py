"""The strategy map file (motivators, decisions, capabilities...): load, validate, dump.

Admins edit this file by hand, so every problem in it is reported at once with its line:
wrong keys and types per entry (one bad entry does not hide the others), then references that
point nowhere, duplicate ids, and cycles of capability parents.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bmmsync import domain
from bmmsync.config.yamlsrc import (
    YamlDoc,
    describe_value,
    load_yaml,
    sort_problems,
    suggest,
    unknown_key_message,
    validation_problems,
)
from bmmsync.errors import ConfigError
from bmmsync.outcomes.targets import parse_target


def _check_id(value: str) -> str:
    if not value or any(ch.isspace() for ch in value) or "," in value:
        raise ValueError(f"expected an id without spaces or commas (got {value!r})")
    return value


Id = Annotated[
    str,
    AfterValidator(_check_id),
    Field(description="Identifier without spaces or commas; used in labels such as cap:{id}."),
]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_target(value: str) -> str:
    parse_target(value)  # TargetError is a ValueError: pydantic reports it at the line
    return value


class TargetEntry(_Entry):
    metric: str = Field(description="What is measured, e.g. churn.")
    target: Annotated[str, AfterValidator(_check_target)] = Field(
        description='The value to reach: a comparison and a number, e.g. "< 10%", ">= 4.5", "= 0".'
    )
    by: date | None = Field(default=None, description="Deadline of the target (YYYY-MM-DD).")


class MotivatorEntry(_Entry):
    id: Id
    name: str
    kind: domain.MotivatorKind = domain.MotivatorKind.INTERNAL
    description: str = ""
    owner: str = ""
    targets: list[TargetEntry] = []
    review_by: date | None = Field(default=None, description="Review date; flagged when overdue.")
    status: domain.Status = domain.Status.ACTIVE


class AssessmentEntry(_Entry):
    motivator: Id = Field(description="Id of the motivator this assessment evaluates.")
    date: date
    statement: str
    value: float | None = None


class DecisionEntry(_Entry):
    id: Id
    name: str
    motivators: list[Id] = Field(
        default=[], description="Ids of the motivators this decision answers."
    )
    status: domain.Status = domain.Status.ACTIVE


class CapabilityEntry(_Entry):
    id: Id
    name: str
    aliases: list[Id] = Field(default=[], description="Other names accepted in labels and fields.")
    decisions: list[Id] = Field(
        default=[], description="Ids of the decisions this capability serves."
    )
    parent: Id | None = Field(default=None, description="Id of the parent capability.")
    status: domain.Status = domain.Status.ACTIVE


class ActionEntry(_Entry):
    capability: Id = Field(description="Id of the capability this action exercises.")
    description: str


class ResourceEntry(_Entry):
    name: str
    kind: str = ""
    actions: list[str] = Field(default=[], description="Descriptions of the actions that need it.")


class ModelFile(_Entry):
    """The model file's shape (also the config's inline `model:` block)."""

    motivators: list[MotivatorEntry] = []
    assessments: list[AssessmentEntry] = []
    decisions: list[DecisionEntry] = []
    capabilities: list[CapabilityEntry] = []
    actions: list[ActionEntry] = []
    resources: list[ResourceEntry] = []


_SECTIONS: dict[str, type[_Entry]] = {
    "motivators": MotivatorEntry,
    "assessments": AssessmentEntry,
    "decisions": DecisionEntry,
    "capabilities": CapabilityEntry,
    "actions": ActionEntry,
    "resources": ResourceEntry,
}


def load_model(path: Path) -> domain.Model:
    """Load and validate a model file. Raises `ConfigError` with every problem, located."""
    return validate_model(load_yaml(path))


def validate_model(doc: YamlDoc) -> domain.Model:
    """Validate parsed model data (a file, or a config's inline `model:` block).

    Raises `ConfigError` listing every problem: shape and types per entry, unknown references,
    duplicate ids or aliases, cycles of capability parents.
    """
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError([doc.problem((), f"expected a mapping (got {describe_value(data)})")])
    problems = [
        doc.problem((key,), unknown_key_message(str(key), _SECTIONS))
        for key in data
        if key not in _SECTIONS
    ]
    valid: dict[str, list[tuple[int, Any]]] = {}
    for name, entry_type in _SECTIONS.items():
        raw = data.get(name)
        valid[name] = []
        if raw is None:
            continue
        if not isinstance(raw, list):
            problems.append(doc.problem((name,), f"expected a list (got {describe_value(raw)})"))
            continue
        for index, item in enumerate(raw):
            try:
                valid[name].append((index, entry_type.model_validate(item)))
            except ValidationError as exc:
                problems += validation_problems(exc, doc, entry_type, loc_prefix=(name, index))
    problems += _ReferenceCheck(doc, data, valid).problems()
    if problems:
        raise ConfigError(sort_problems(problems))
    return _to_domain(ModelFile.model_validate(data))


class _ReferenceCheck:
    """Ids, references and parent cycles across sections, on the entries that validated.

    Ids are gathered from the raw data too, so an entry with a type error elsewhere does not
    also cause "unknown id" problems in every entry that references it.
    """

    def __init__(
        self, doc: YamlDoc, data: dict[str, Any], valid: dict[str, list[tuple[int, Any]]]
    ) -> None:
        self.doc = doc
        self.data = data
        self.valid = valid
        self.out: list[str] = []
        self.motivators = self._ids("motivators", "motivator", data)
        self.decisions = self._ids("decisions", "decision", data)
        self.capabilities = self._ids("capabilities", "capability", data)
        self.aliases: dict[str, str] = {}
        self._check_aliases()

    def problems(self) -> list[str]:
        for index, decision in self.valid["decisions"]:
            self._refs(("decisions", index, "motivators"), decision.motivators, "motivator")
        for index, cap in self.valid["capabilities"]:
            self._refs(("capabilities", index, "decisions"), cap.decisions, "decision")
            if cap.parent is not None:
                self._ref(("capabilities", index, "parent"), cap.parent, "capability")
        for index, assessment in self.valid["assessments"]:
            self._ref(("assessments", index, "motivator"), assessment.motivator, "motivator")
        for index, action in self.valid["actions"]:
            self._ref(("actions", index, "capability"), action.capability, "capability")
        self._check_cycles(self.data)
        return self.out

    def _ids(self, section: str, what: str, data: dict[str, Any]) -> dict[str, int]:
        """Map id -> index of the first entry with it; later duplicates are problems."""
        first: dict[str, int] = {}
        raw = data.get(section)
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                continue
            if ident in first:
                line = self.doc.line((section, first[ident], "id"))
                self.out.append(
                    self.doc.problem(
                        (section, index, "id"),
                        f"duplicate {what} id {ident!r} (first at line {line})",
                    )
                )
                continue
            first[ident] = index
        return first

    def _check_aliases(self) -> None:
        for index, cap in self.valid["capabilities"]:
            for j, alias in enumerate(cap.aliases):
                path = ("capabilities", index, "aliases", j)
                owner = self.aliases.get(alias)
                if alias in self.capabilities:
                    other = self._describe_capability(alias)
                    self.out.append(
                        self.doc.problem(path, f"alias {alias!r} is already the id of {other}")
                    )
                elif owner is not None:
                    self.out.append(
                        self.doc.problem(
                            path, f"alias {alias!r} is already an alias of capability {owner!r}"
                        )
                    )
                else:
                    self.aliases[alias] = cap.id

    def _describe_capability(self, ident: str) -> str:
        line = self.doc.line(("capabilities", self.capabilities[ident], "id"))
        return f"capability {ident!r} (line {line})"

    def _refs(self, path: tuple[str | int, ...], values: Iterable[str], what: str) -> None:
        for j, value in enumerate(values):
            self._ref((*path, j), value, what)

    def _ref(self, path: tuple[str | int, ...], value: str, what: str) -> None:
        known = {
            "motivator": self.motivators,
            "decision": self.decisions,
            "capability": self.capabilities,
        }[what]
        if value in known:
            return
        if what == "capability" and value in self.aliases:
            hint = f"{value!r} is an alias; use the id {self.aliases[value]!r}"
            self.out.append(self.doc.problem(path, hint))
            return
        close = suggest(value, known)
        hint = f"; did you mean {close!r}?" if close else ""
        self.out.append(self.doc.problem(path, f"unknown {what} {value!r}{hint}"))

    def _check_cycles(self, data: dict[str, Any]) -> None:
        """Report each cycle once, at the parent of its earliest entry (raw data: a type
        error elsewhere in an entry must not hide a cycle)."""
        raw = data.get("capabilities")
        parent_of: dict[str, str | None] = {}
        index_of: dict[str, int] = {}
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str) and ident not in index_of:
                parent = item.get("parent")
                parent_of[ident] = parent if isinstance(parent, str) else None
                index_of[ident] = index
        done: set[str] = set()
        for start in parent_of:
            trail: list[str] = []
            node: str | None = start
            while node is not None and node not in done and node not in trail:
                trail.append(node)
                node = parent_of.get(node)
            if node is not None and node in trail:
                cycle = trail[trail.index(node) :]
                first = min(cycle, key=lambda c: index_of[c])
                ordered = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
                chain = " -> ".join([*ordered, first])
                self.out.append(
                    self.doc.problem(
                        ("capabilities", index_of[first], "parent"),
                        f"cycle of capability parents: {chain}",
                    )
                )
            done.update(trail)


def _to_domain(model: ModelFile) -> domain.Model:
    return domain.Model(
        motivators=tuple(
            domain.Motivator(
                id=m.id,
                name=m.name,
                kind=m.kind,
                description=m.description,
                owner=m.owner,
                targets=tuple(domain.Target(t.metric, t.target, t.by) for t in m.targets),
                review_by=m.review_by,
                status=m.status,
            )
            for m in model.motivators
        ),
        assessments=tuple(
            domain.Assessment(a.motivator, a.date, a.statement, a.value) for a in model.assessments
        ),
        decisions=tuple(
            domain.Decision(d.id, d.name, tuple(d.motivators), d.status) for d in model.decisions
        ),
        capabilities=tuple(
            domain.Capability(
                c.id, c.name, tuple(c.aliases), tuple(c.decisions), c.parent, c.status
            )
            for c in model.capabilities
        ),
        actions=tuple(domain.Action(a.capability, a.description) for a in model.actions),
        resources=tuple(domain.Resource(r.name, r.kind, tuple(r.actions)) for r in model.resources),
    )


def dump_model(model: domain.Model, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The model as a model file (YAML) or JSON; `load_model` reads either back unchanged.

    Values equal to their defaults are left out, so the output reads like a hand-kept file.
    """
    data = _plain(model)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=date.isoformat) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    raise ValueError(f"unknown format {fmt!r}; expected 'yaml' or 'json'")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            default = (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            )
            if item == default and f.name not in ("id", "name"):
                continue
            out[f.name] = _plain(item)
        return out
    return value
