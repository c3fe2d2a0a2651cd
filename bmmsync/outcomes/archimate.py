"""The map as an ArchiMate Model Exchange File (Open Group format 3.x), as Archi imports it.

Mapping: a motivator is a Driver (a Goal when it has targets), an assessment an Assessment,
a decision a CourseOfAction, a capability a Capability, an action a WorkPackage and a
resource a Resource. Relationships use only types the ArchiMate specification allows between
those types (Archi's relationship table): CourseOfAction realizes a Goal and influences a
Driver; Capability realizes CourseOfAction; WorkPackage realizes Capability; Assessment,
Resource and a capability's parent are associations. Retired entries and capabilities in a
parent cycle are exported and marked (a property and their documentation), never dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from bmmsync.domain import Model, Status

NS = "http://www.opengroup.org/xsd/archimate/3.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{NS} http://www.opengroup.org/xsd/archimate/3.1/archimate3_Diagram.xsd"
PROPERTIES = ("bmmsync-id", "bmmsync-status", "bmmsync-note")
"""Property definitions, in this order; identifiers propid-1..n."""

_NCNAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def identifier(kind: str, key: str) -> str:
    """An `xs:ID` (an NCName) that is stable across exports: kind and key, with anything an
    NCName cannot hold replaced and a short hash added so that replaced keys stay unique."""
    safe = _NCNAME_UNSAFE.sub("_", key)
    if safe != key:
        safe += "-" + hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"id-{kind}-{safe}"


@dataclass(frozen=True, slots=True)
class _Element:
    ident: str
    type: str
    name: str
    documentation: str
    properties: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Relationship:
    ident: str
    type: str
    source: str
    target: str
    name: str = ""


def capability_cycles(model: Model) -> set[str]:
    """Capabilities on a cycle of parents (a stored map may hold one; the file refuses it)."""
    parent = {c.id: c.parent for c in model.capabilities}
    on_cycle: set[str] = set()
    for start in parent:
        trail: list[str] = []
        node: str | None = start
        while node is not None and node not in trail:
            trail.append(node)
            node = parent.get(node)
        if node is not None:
            on_cycle.update(trail[trail.index(node) :])
    return on_cycle


class _Builder:
    def __init__(self) -> None:
        self.elements: list[_Element] = []
        self.relationships: list[_Relationship] = []
        self.known: set[str] = set()

    def element(
        self, kind: str, key: str, type_: str, name: str, doc: str, status: Status, note: str = ""
    ) -> str:
        ident = identifier(kind, key)
        props = [("bmmsync-id", key), ("bmmsync-status", status.value)]
        notes = [n for n in (doc, note) if n]
        if status is Status.RETIRED:
            notes.append("Retired in bmmsync.")
        if note:
            props.append(("bmmsync-note", note))
        self.elements.append(_Element(ident, type_, name, "\n".join(notes), tuple(props)))
        self.known.add(ident)
        return ident

    def relate(self, type_: str, source: str, target: str, name: str = "") -> None:
        ident = f"id-rel-{type_.lower()}-{source[3:]}--{target[3:]}"
        if source in self.known and target in self.known and ident not in self.known:
            self.known.add(ident)
            self.relationships.append(_Relationship(ident, type_, source, target, name))


def _build(model: Model) -> _Builder:
    b = _Builder()
    cycles = capability_cycles(model)
    motivator_type: dict[str, str] = {}
    for m in model.motivators:
        type_ = "Goal" if m.targets else "Driver"
        motivator_type[m.id] = type_
        targets = "; ".join(
            f"{t.metric} {t.target}" + (f" by {t.by.isoformat()}" if t.by else "")
            for t in m.targets
        )
        doc = "\n".join(x for x in (m.description, f"Targets: {targets}" if targets else "") if x)
        b.element("motivator", m.id, type_, m.name, doc, m.status)
    for a in model.assessments:
        key = f"{a.motivator}@{a.date.isoformat()}"
        value = "" if a.value is None else f" (value {a.value:g})"
        ident = b.element("assessment", key, "Assessment", a.statement, "", Status.ACTIVE)
        b.relate("Association", ident, identifier("motivator", a.motivator), f"on {a.date}{value}")
    for d in model.decisions:
        ident = b.element("decision", d.id, "CourseOfAction", d.name, "", d.status)
        for mid in d.motivators:
            kind = "Realization" if motivator_type.get(mid) == "Goal" else "Influence"
            b.relate(kind, ident, identifier("motivator", mid))
    for c in model.capabilities:
        note = "On a cycle of capability parents." if c.id in cycles else ""
        aliases = f"Aliases: {', '.join(c.aliases)}" if c.aliases else ""
        ident = b.element("capability", c.id, "Capability", c.name, aliases, c.status, note)
        for did in c.decisions:
            b.relate("Realization", ident, identifier("decision", did))
    for c in model.capabilities:
        if c.parent:
            b.relate(
                "Association",
                identifier("capability", c.id),
                identifier("capability", c.parent),
                "part of",
            )
    work: dict[str, list[str]] = {}
    for action in model.actions:
        key = f"{action.capability}/{action.description}"
        ident = b.element("action", key, "WorkPackage", action.description, "", Status.ACTIVE)
        work.setdefault(action.description, []).append(ident)
        b.relate("Realization", ident, identifier("capability", action.capability))
    for r in model.resources:
        ident = b.element("resource", r.name, "Resource", r.name, r.kind, Status.ACTIVE)
        for description in r.actions:
            for target in work.get(description, ()):
                b.relate("Association", ident, target, "needed by")
    return b


def _text(parent: ET.Element, tag: str, text: str) -> None:
    node = ET.SubElement(parent, f"{{{NS}}}{tag}")
    node.set(XML_LANG, "en")
    node.text = text


def _properties(parent: ET.Element, props: Iterable[tuple[str, str]]) -> None:
    props = list(props)
    if not props:
        return
    holder = ET.SubElement(parent, f"{{{NS}}}properties")
    for key, value in props:
        prop = ET.SubElement(holder, f"{{{NS}}}property")
        prop.set("propertyDefinitionRef", f"propid-{PROPERTIES.index(key) + 1}")
        _text(prop, "value", value)


def to_archimate(model: Model, name: str = "bmmsync strategy map") -> str:
    """The exchange file as text. Children follow the schema's order: name, documentation,
    elements, relationships, propertyDefinitions (and name, documentation, properties
    within each element and relationship)."""
    b = _build(model)
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS}}}model")
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    root.set("identifier", "id-bmmsync-model")
    _text(root, "name", name)
    _text(root, "documentation", "Exported by bmmsync: motivators, decisions, capabilities.")
    if b.elements:
        elements = ET.SubElement(root, f"{{{NS}}}elements")
        for e in b.elements:
            node = ET.SubElement(elements, f"{{{NS}}}element")
            node.set("identifier", e.ident)
            node.set(f"{{{XSI}}}type", e.type)
            _text(node, "name", e.name)
            if e.documentation:
                _text(node, "documentation", e.documentation)
            _properties(node, e.properties)
    if b.relationships:
        relationships = ET.SubElement(root, f"{{{NS}}}relationships")
        for r in b.relationships:
            node = ET.SubElement(relationships, f"{{{NS}}}relationship")
            node.set("identifier", r.ident)
            node.set("source", r.source)
            node.set("target", r.target)
            node.set(f"{{{XSI}}}type", r.type)
            if r.name:
                _text(node, "name", r.name)
    definitions = ET.SubElement(root, f"{{{NS}}}propertyDefinitions")
    for number, key in enumerate(PROPERTIES, start=1):
        definition = ET.SubElement(definitions, f"{{{NS}}}propertyDefinition")
        definition.set("identifier", f"propid-{number}")
        definition.set("type", "string")
        _text(definition, "name", key)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
