"""The motivator/decision/capability map in the store: load it, and sync it from a model file.

Entries that disappear from the file are retired, never deleted, so history (flags, audit,
snapshots that name them) keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from bmmsync.domain import (
    Action,
    Assessment,
    Capability,
    Decision,
    Model,
    Motivator,
    MotivatorKind,
    Resource,
    Status,
    Target,
)
from bmmsync.store.models import (
    ActionRow,
    AssessmentRow,
    Base,
    CapabilityRow,
    DecisionRow,
    MotivatorRow,
    ResourceRow,
)
from bmmsync.store.upsert import bulk_upsert


@dataclass
class ModelSyncReport:
    """What `model sync` changed, by kind: ids added, changed and retired."""

    added: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, list[str]]]:
        return {"added": self.added, "changed": self.changed, "retired": self.retired}

    @property
    def unchanged(self) -> bool:
        return not any((*self.added.values(), *self.changed.values(), *self.retired.values()))


def _motivator_row(m: Motivator) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "kind": m.kind.value,
        "description": m.description,
        "owner": m.owner,
        "targets": [
            {"metric": t.metric, "target": t.target, "by": t.by.isoformat() if t.by else None}
            for t in m.targets
        ],
        "review_by": m.review_by,
        "status": m.status.value,
    }


def _decision_row(d: Decision) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "motivators": list(d.motivators), "status": d.status.value}


def _capability_row(c: Capability) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "aliases": list(c.aliases),
        "decisions": list(c.decisions),
        "parent": c.parent,
        "status": c.status.value,
    }


def _sync_table(
    session: Session,
    model: type[Base],
    key: str,
    wanted: dict[str, dict[str, Any]],
    now: datetime,
    report: ModelSyncReport,
    kind: str,
) -> None:
    """Upsert `wanted` rows by `key`, stamp `changed_at` on real changes, retire the rest."""
    table = cast(Table, model.__table__)
    columns = [c.name for c in table.columns if c.name != "changed_at"]
    existing = {row[key]: row for row in session.execute(select(*table.columns)).mappings().all()}
    rows: list[dict[str, Any]] = []
    for ident, row in wanted.items():
        old = existing.get(ident)
        if old is None:
            report.added.setdefault(kind, []).append(ident)
        elif any(old[c] != row.get(c) for c in columns if c in row):
            report.changed.setdefault(kind, []).append(ident)
        else:
            continue
        rows.append(row | ({"changed_at": now} if "changed_at" in table.columns else {}))
    for ident, old in existing.items():
        if ident not in wanted and old["status"] != Status.RETIRED.value:
            report.retired.setdefault(kind, []).append(ident)
            retired = dict(old) | {"status": Status.RETIRED.value}
            rows.append(retired | ({"changed_at": now} if "changed_at" in table.columns else {}))
    bulk_upsert(session, model, rows)


def sync_model(session: Session, model: Model, now: datetime) -> ModelSyncReport:
    """Make the store's map equal `model` (retiring what it no longer names). Idempotent."""
    report = ModelSyncReport()
    tables: list[tuple[type[Base], str, str, dict[str, dict[str, Any]]]] = [
        (
            MotivatorRow,
            "id",
            "motivators",
            {m.id: _motivator_row(m) for m in model.motivators},
        ),
        (
            DecisionRow,
            "id",
            "decisions",
            {d.id: _decision_row(d) for d in model.decisions},
        ),
        (
            CapabilityRow,
            "id",
            "capabilities",
            {c.id: _capability_row(c) for c in model.capabilities},
        ),
        (
            ResourceRow,
            "name",
            "resources",
            {
                r.name: {
                    "name": r.name,
                    "kind": r.kind,
                    "actions": list(r.actions),
                    "status": Status.ACTIVE.value,
                }
                for r in model.resources
            },
        ),
    ]
    for model_cls, key, kind, wanted in tables:
        _sync_table(session, model_cls, key, wanted, now, report, kind)
    _sync_actions(session, model, report)
    bulk_upsert(
        session,
        AssessmentRow,
        [
            {"motivator": a.motivator, "date": a.date, "statement": a.statement, "value": a.value}
            for a in model.assessments
        ],
    )
    return report


def _sync_actions(session: Session, model: Model, report: ModelSyncReport) -> None:
    """Actions are keyed by (capability, description): a reworded action is a new one."""
    existing = {(r.capability, r.description): r.status for r in session.scalars(select(ActionRow))}
    wanted = {(a.capability, a.description) for a in model.actions}
    rows = []
    for ident in wanted:
        if existing.get(ident) != Status.ACTIVE.value:
            (report.added if ident not in existing else report.changed).setdefault(
                "actions", []
            ).append(f"{ident[0]}: {ident[1]}")
            rows.append({"capability": ident[0], "description": ident[1], "status": "active"})
    for ident, status in existing.items():
        if ident not in wanted and status != Status.RETIRED.value:
            report.retired.setdefault("actions", []).append(f"{ident[0]}: {ident[1]}")
            rows.append({"capability": ident[0], "description": ident[1], "status": "retired"})
    bulk_upsert(session, ActionRow, rows)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def load_model(session: Session, *, include_retired: bool = True) -> Model:
    """The map as domain values, in id order (so output is stable)."""
    motivators = tuple(
        Motivator(
            id=r.id,
            name=r.name,
            kind=MotivatorKind(r.kind),
            description=r.description,
            owner=r.owner,
            targets=tuple(
                Target(metric=t["metric"], target=t["target"], by=_date(t.get("by")))
                for t in r.targets
            ),
            review_by=r.review_by,
            status=Status(r.status),
        )
        for r in session.scalars(select(MotivatorRow).order_by(MotivatorRow.id))
    )
    decisions = tuple(
        Decision(id=r.id, name=r.name, motivators=tuple(r.motivators), status=Status(r.status))
        for r in session.scalars(select(DecisionRow).order_by(DecisionRow.id))
    )
    capabilities = tuple(
        Capability(
            id=r.id,
            name=r.name,
            aliases=tuple(r.aliases),
            decisions=tuple(r.decisions),
            parent=r.parent,
            status=Status(r.status),
        )
        for r in session.scalars(select(CapabilityRow).order_by(CapabilityRow.id))
    )
    assessments = tuple(
        Assessment(motivator=r.motivator, date=r.date, statement=r.statement, value=r.value)
        for r in session.scalars(
            select(AssessmentRow).order_by(AssessmentRow.motivator, AssessmentRow.date)
        )
    )
    action_query = select(ActionRow).order_by(ActionRow.capability, ActionRow.description)
    resource_query = select(ResourceRow).order_by(ResourceRow.name)
    if not include_retired:
        action_query = action_query.where(ActionRow.status == Status.ACTIVE.value)
        resource_query = resource_query.where(ResourceRow.status == Status.ACTIVE.value)
        motivators = tuple(m for m in motivators if m.status is Status.ACTIVE)
        decisions = tuple(d for d in decisions if d.status is Status.ACTIVE)
        capabilities = tuple(c for c in capabilities if c.status is Status.ACTIVE)
    actions = tuple(
        Action(capability=r.capability, description=r.description)
        for r in session.scalars(action_query)
    )
    resources = tuple(
        Resource(name=r.name, kind=r.kind, actions=tuple(r.actions))
        for r in session.scalars(resource_query)
    )
    return Model(
        motivators=motivators,
        assessments=assessments,
        decisions=decisions,
        capabilities=capabilities,
        actions=actions,
        resources=resources,
    )


def map_version(session: Session) -> tuple[Any, ...]:
    """A few aggregates of the map tables, in one query, that change when `sync_model`
    changes the map: each table's size, and the newest change stamp where rows keep one. A
    cache of `load_model` keyed on it (and on the last check) skips decoding the map per
    request; an edit it cannot see (a resource's actions, an assessment's wording at the same
    value) shows once the next check runs."""
    parts: list[Any] = []
    for table in (MotivatorRow, DecisionRow, CapabilityRow):
        parts += [select(func.count()).select_from(table), select(func.max(table.changed_at))]
    for listed in (ActionRow, ResourceRow):
        parts += [
            select(func.count()).select_from(listed),
            select(func.count()).select_from(listed).where(listed.status == Status.ACTIVE.value),
        ]
    parts += [
        select(func.count()).select_from(AssessmentRow),
        select(func.max(AssessmentRow.date)),
        select(func.sum(AssessmentRow.value)),
    ]
    row = session.execute(select(*(part.scalar_subquery() for part in parts))).one()
    return tuple(row)
