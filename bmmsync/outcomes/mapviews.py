"""The map for other tools: a Mermaid flowchart, a CSV of chains, and an OKR tree.

Health (traced share, flagged count) comes from the store when there is one: per capability,
the in-scope tickets linked to it, how many are traced, and how many are not (those are the
ones the bot flags). A decision's and a motivator's health add up their capabilities'.
Retired entries and capabilities on a parent cycle are marked, never dropped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bmmsync.domain import Model, Status
from bmmsync.outcomes.archimate import capability_cycles
from bmmsync.outcomes.keyresults import KeyResult


@dataclass(frozen=True, slots=True)
class NodeHealth:
    open: int = 0
    traced: int = 0

    @property
    def flagged(self) -> int:
        return self.open - self.traced

    @property
    def traced_share(self) -> float | None:
        return self.traced / self.open if self.open else None

    def __add__(self, other: NodeHealth) -> NodeHealth:
        return NodeHealth(self.open + other.open, self.traced + other.traced)

    def label(self) -> str:
        share = self.traced_share
        traced = "no open work" if share is None else f"{share * 100:.0f}% traced"
        return f"{traced}, {self.flagged} flagged"


Health = Mapping[str, NodeHealth]
"""Capability id -> health."""


@dataclass(frozen=True, slots=True)
class Chain:
    """One motivator -> decision -> capability path; loose ends have empty ids."""

    motivator: str
    decision: str
    capability: str


def chains(model: Model) -> list[Chain]:
    """Every path in map order, plus a row for each decision or capability not on one."""
    decisions_of: dict[str, list[str]] = {}
    for c in model.capabilities:
        for did in c.decisions:
            decisions_of.setdefault(did, []).append(c.id)
    out: list[Chain] = []
    seen_d: set[str] = set()
    seen_c: set[str] = set()
    for m in model.motivators:
        for d in model.decisions:
            if m.id not in d.motivators:
                continue
            seen_d.add(d.id)
            caps = decisions_of.get(d.id, [])
            out += [Chain(m.id, d.id, cid) for cid in caps] or [Chain(m.id, d.id, "")]
            seen_c.update(caps)
    for d in model.decisions:
        if d.id not in seen_d:
            caps = decisions_of.get(d.id, [])
            out += [Chain("", d.id, cid) for cid in caps] or [Chain("", d.id, "")]
            seen_c.update(caps)
    out += [Chain("", "", c.id) for c in model.capabilities if c.id not in seen_c]
    out += [
        Chain(m.id, "", "")
        for m in model.motivators
        if not any(chain.motivator == m.id for chain in out)
    ]
    return out


def _marks(model: Model) -> dict[tuple[str, str], str]:
    """(kind, id) -> "retired" / "cycle" for the entries that need a mark."""
    marks: dict[tuple[str, str], str] = {}
    for kind, entries in (
        ("motivator", model.motivators),
        ("decision", model.decisions),
        ("capability", model.capabilities),
    ):
        for e in entries:
            if e.status is Status.RETIRED:
                marks[(kind, e.id)] = "retired"
    for cid in capability_cycles(model):
        marks[("capability", cid)] = "cycle" + ("; retired" if ("capability", cid) in marks else "")
    return marks


def _rollup(model: Model, health: Health) -> dict[tuple[str, str], NodeHealth]:
    out: dict[tuple[str, str], NodeHealth] = {}
    for cid, h in health.items():
        out[("capability", cid)] = h
    counted: set[tuple[str, str, str]] = set()
    for chain in chains(model):
        got = health.get(chain.capability)
        if got is None:
            continue
        h = got
        if chain.decision and (chain.decision, chain.capability, "d") not in counted:
            counted.add((chain.decision, chain.capability, "d"))
            out[("decision", chain.decision)] = (
                out.get(("decision", chain.decision), NodeHealth()) + h
            )
        if chain.motivator and (chain.motivator, chain.capability, "m") not in counted:
            counted.add((chain.motivator, chain.capability, "m"))
            key = ("motivator", chain.motivator)
            out[key] = out.get(key, NodeHealth()) + h
    return out


def _mermaid_text(text: str) -> str:
    """A label Mermaid shows as text: quotes and markup characters as entity codes."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in " -_.,:;/()%+@":
            out.append(ch)
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def to_mermaid(model: Model, health: Health | None = None) -> str:
    """A `flowchart LR` GitHub and GitLab render: motivator <- decision <- capability."""
    marks = _marks(model)
    rolled = _rollup(model, health) if health is not None else {}
    node_ids: dict[tuple[str, str], str] = {}
    lines = ["flowchart LR"]
    shapes = {"motivator": ('(["', '"])'), "decision": ('{{"', '"}}'), "capability": ('["', '"]')}
    entries = (
        [("motivator", m.id, m.name) for m in model.motivators]
        + [("decision", d.id, d.name) for d in model.decisions]
        + [("capability", c.id, c.name) for c in model.capabilities]
    )
    for n, (kind, ident, name) in enumerate(entries, start=1):
        if (kind, ident) in node_ids:
            continue  # a duplicate id in a stored map: one node
        node = f"{kind[0]}{n}"
        node_ids[(kind, ident)] = node
        shape = shapes[kind]
        parts = [f"<b>{_mermaid_text(name)}</b>", _mermaid_text(f"{kind} {ident}")]
        found = rolled.get((kind, ident))
        if found is not None:
            parts.append(found.label())
        mark = marks.get((kind, ident))
        if mark:
            parts.append(f"<i>{mark}</i>")
        lines.append(f"    {node}{shape[0]}{'<br/>'.join(parts)}{shape[1]}")
    for d in model.decisions:
        for mid in d.motivators:
            if ("motivator", mid) in node_ids:
                lines.append(
                    f"    {node_ids[('decision', d.id)]} --> {node_ids[('motivator', mid)]}"
                )
    cycles = capability_cycles(model)
    for c in model.capabilities:
        for did in c.decisions:
            if ("decision", did) in node_ids:
                lines.append(
                    f"    {node_ids[('capability', c.id)]} --> {node_ids[('decision', did)]}"
                )
        if c.parent and ("capability", c.parent) in node_ids:
            label = "part of (cycle)" if c.id in cycles else "part of"
            lines.append(
                f'    {node_ids[("capability", c.id)]} -.->|"{label}"| '
                f"{node_ids[('capability', c.parent)]}"
            )
    retired = [node_ids[k] for k, mark in marks.items() if "retired" in mark]
    cyclic = [node_ids[("capability", cid)] for cid in sorted(cycles)]
    lines.append("    classDef retired stroke-dasharray: 5 5,color:#777")
    lines.append("    classDef cycle stroke:#d33,stroke-width:2px")
    if retired:
        lines.append(f"    class {','.join(retired)} retired")
    if cyclic:
        lines.append(f"    class {','.join(cyclic)} cycle")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("motivator", "decision", "capability", "open", "flagged", "traced_pct", "marks")


def to_csv(model: Model, health: Health | None = None) -> str:
    """One row per chain; health columns empty without a store."""
    marks = _marks(model)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for chain in chains(model):
        h = (health or {}).get(chain.capability) if chain.capability else None
        share = h.traced_share if h is not None else None
        row_marks = [
            f"{kind} {ident} {marks[(kind, ident)]}"
            for kind, ident in (
                ("motivator", chain.motivator),
                ("decision", chain.decision),
                ("capability", chain.capability),
            )
            if (kind, ident) in marks
        ]
        writer.writerow(
            [
                chain.motivator,
                chain.decision,
                chain.capability,
                "" if h is None else h.open,
                "" if h is None else h.flagged,
                "" if share is None else f"{share * 100:.1f}",
                "; ".join(row_marks),
            ]
        )
    return out.getvalue()


def okr_tree(
    model: Model, results: Sequence[KeyResult], health: Health | None = None
) -> dict[str, Any]:
    """Objectives (motivators) with key results and the capabilities serving each."""
    marks = _marks(model)
    capabilities = {c.id: c for c in model.capabilities}
    by_motivator: dict[str, list[str]] = {}
    for chain in chains(model):
        if chain.motivator and chain.capability:
            by_motivator.setdefault(chain.motivator, [])
            if chain.capability not in by_motivator[chain.motivator]:
                by_motivator[chain.motivator].append(chain.capability)
    objectives = []
    for m in model.motivators:
        caps = []
        for cid in by_motivator.get(m.id, []):
            h = (health or {}).get(cid)
            caps.append(
                {
                    "id": cid,
                    "name": capabilities[cid].name,
                    "open": None if h is None else h.open,
                    "flagged": None if h is None else h.flagged,
                    "traced_share": None if h is None else h.traced_share,
                    "marks": marks.get(("capability", cid)),
                }
            )
        objectives.append(
            {
                "id": m.id,
                "name": m.name,
                "status": m.status.value,
                "key_results": [
                    {
                        "metric": kr.metric,
                        "target": kr.target,
                        "by": kr.by.isoformat() if kr.by else None,
                        "current": kr.current,
                        "progress": kr.progress,
                        "met": kr.met,
                        "summary": kr.summary(),
                    }
                    for kr in results
                    if kr.motivator == m.id
                ],
                "capabilities": caps,
            }
        )
    return {"objectives": objectives}


def okr_json(tree: dict[str, Any]) -> str:
    return json.dumps(tree, indent=2, ensure_ascii=False) + "\n"


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or heading (no markup, no HTML)."""
    out = text.replace("\\", "\\\\")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def okr_markdown(tree: dict[str, Any]) -> str:
    lines = ["# Objectives and key results", ""]
    for o in tree["objectives"]:
        retired = " (retired)" if o["status"] == Status.RETIRED.value else ""
        lines += [f"## {_md(o['name'])}{retired}", ""]
        for kr in o["key_results"] or [{"summary": "no key results"}]:
            lines.append(f"- {_md(kr['summary'])}")
        if o["capabilities"]:
            lines += ["", "| capability | open | flagged | traced |", "| --- | --- | --- | --- |"]
            for c in o["capabilities"]:
                share = c["traced_share"]
                traced = "" if share is None else f"{share * 100:.0f}%"
                name = _md(c["name"]) + (f" ({c['marks']})" if c["marks"] else "")
                cells = [
                    "" if c["open"] is None else str(c["open"]),
                    "" if c["flagged"] is None else str(c["flagged"]),
                ]
                lines.append(f"| {name} | {cells[0]} | {cells[1]} | {traced} |")
        lines.append("")
    return "\n".join(lines)
