"""Exports of the map: ArchiMate exchange file (parsed back, and read by pyArchimate), Mermaid
(rendered by the Mermaid CLI when installed, else parsed), CSV chains and the OKR tree."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

from pyArchimate.model import Model as ArchiModel

from bmmsync.config.model_file import load_model
from bmmsync.domain import Capability, Measurement, Model, Status
from bmmsync.outcomes.archimate import NS, XSI, to_archimate
from bmmsync.outcomes.keyresults import key_results
from bmmsync.outcomes.mapviews import (
    CSV_COLUMNS,
    NodeHealth,
    chains,
    okr_json,
    okr_markdown,
    okr_tree,
    to_csv,
    to_mermaid,
)

REPO = Path(__file__).resolve().parents[2]
Q = f"{{{NS}}}"
TYPE = f"{{{XSI}}}type"

# From Archi's relationship table (com.archimatetool.model/model/relationships.xml, 3.2):
# the letters allowed from source to target type for the pairs the export uses.
# n influence, o association, r realization.
ALLOWED = {
    ("Assessment", "Driver"): "no",
    ("Assessment", "Goal"): "no",
    ("CourseOfAction", "Goal"): "nor",
    ("CourseOfAction", "Driver"): "no",
    ("Capability", "CourseOfAction"): "or",
    ("Capability", "Capability"): "cgos",
    ("WorkPackage", "Capability"): "or",
    ("Resource", "WorkPackage"): "o",
}
LETTER = {"Influence": "n", "Association": "o", "Realization": "r"}


def demo_map() -> Model:
    model = load_model(REPO / "config" / "demo-model.yaml")
    # A stored map can hold what the file refuses: a cycle of capability parents.
    caps = list(model.capabilities)
    caps[0] = replace(caps[0], parent=caps[1].id)
    caps[1] = replace(caps[1], parent=caps[0].id)
    return replace(model, capabilities=tuple(caps))


def children(node: ET.Element) -> list[str]:
    return [child.tag.removeprefix(Q) for child in node]


def test_archimate_follows_the_schema_and_the_relationship_rules(tmp_path: Path) -> None:
    model = demo_map()
    text = to_archimate(model)
    root = ET.fromstring(text)

    assert root.tag == f"{Q}model"
    order = children(root)
    schema = ["name", "documentation", "elements", "relationships", "propertyDefinitions"]
    assert order == schema
    ids = [n.get("identifier") for n in root.iter() if n.get("identifier")]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z_][\w.-]*", i) for i in ids)  # xs:ID is an NCName
    elements = {e.get("identifier"): e for e in root.iter(f"{Q}element")}
    for e in elements.values():
        tags = children(e)
        assert tags[0] == "name" and tags == sorted(
            tags, key=["name", "documentation", "properties"].index
        )
    types = {e.get(TYPE) for e in elements.values()}
    assert types == {
        "Goal",
        "Driver",
        "Assessment",
        "CourseOfAction",
        "Capability",
        "WorkPackage",
        "Resource",
    }
    relationships = list(root.iter(f"{Q}relationship"))
    assert relationships
    for r in relationships:
        source, target = elements[r.get("source")], elements[r.get("target")]
        pair = (source.get(TYPE), target.get(TYPE))
        assert LETTER[r.get(TYPE)] in ALLOWED[pair], (pair, r.get(TYPE))
    # one element per map entry: nothing dropped, retired and cyclic entries marked
    expected = (
        len(model.motivators)
        + len(model.assessments)
        + len(model.decisions)
        + len(model.capabilities)
        + len(model.actions)
        + len(model.resources)
    )
    assert len(elements) == expected
    retired = elements["id-motivator-legacy-partners"]
    assert "Retired" in retired.find(f"{Q}documentation").text
    cycle = elements[f"id-capability-{model.capabilities[0].id}"]
    assert "cycle" in cycle.find(f"{Q}documentation").text

    path = tmp_path / "map.xml"
    path.write_text(text, encoding="utf-8")
    archi = ArchiModel("read back")
    archi.read(str(path))
    assert set(archi.elems_dict) == set(elements)
    assert len(archi.rels_dict) == len(relationships)
    assert archi.elems_dict["id-motivator-legacy-partners"].props["bmmsync-status"] == "retired"


def test_mermaid_renders_or_parses(tmp_path: Path) -> None:
    model = demo_map()
    health = {"self-service-portal": NodeHealth(8, 7), "legacy-sso": NodeHealth(3, 0)}
    text = to_mermaid(model, health)

    assert "88% traced, 1 flagged" in text and "<i>retired</i>" in text
    assert "part of (cycle)" in text
    mmdc = Path.home() / ".cache/bmmsync/node/node_modules/.bin/mmdc"
    chromium = shutil.which("chromium")
    if mmdc.exists() and chromium and os.environ.get("BMMSYNC_MERMAID_RENDER") != "0":
        source, out, config = tmp_path / "map.mmd", tmp_path / "map.svg", tmp_path / "p.json"
        source.write_text(text)
        config.write_text(json.dumps({"executablePath": chromium, "args": ["--no-sandbox"]}))
        done = subprocess.run(
            [str(mmdc), "-i", str(source), "-o", str(out), "-p", str(config)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert "Self-service portal" in out.read_text()
        return
    nodes: set[str] = set()
    for line in text.splitlines()[1:]:
        line = line.strip()
        node = re.fullmatch(r'(\w+)(\(\["|\{\{"|\[")(.*)("\]\)|"\}\}|"\])', line)
        edge = re.fullmatch(r'(\w+) (-->|-\.->\|"[^"|]+"\|) (\w+)', line)
        if node:
            assert '"' not in node.group(3)
            nodes.add(node.group(1))
        elif edge:
            assert {edge.group(1), edge.group(3)} <= nodes
        else:
            assert re.fullmatch(r"classDef \w+ .+|class [\w,]+ \w+", line), line
    assert text.startswith("flowchart LR\n")


def test_csv_one_row_per_chain_and_okr_tree() -> None:
    model = load_model(REPO / "config" / "demo-model.yaml")
    health = {"self-service-portal": NodeHealth(8, 7)}

    rows = list(csv.DictReader(io.StringIO(to_csv(model, health))))

    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(chains(model))
    portal = [r for r in rows if r["capability"] == "self-service-portal"]
    assert portal and all(
        (r["open"], r["flagged"], r["traced_pct"]) == ("8", "1", "87.5") for r in portal
    )
    assert any("retired" in r["marks"] for r in rows)
    assert {r["motivator"] for r in rows} >= {m.id for m in model.motivators}

    results = key_results(
        model, [Measurement("retention", "churn", date(2026, 11, 30), 12)], date(2026, 12, 7)
    )
    tree = okr_tree(model, results, health)
    retention = next(o for o in tree["objectives"] if o["id"] == "retention")
    assert retention["key_results"][0]["current"] == 12
    assert any(
        c["id"] == "self-service-portal" and c["flagged"] == 1 for c in retention["capabilities"]
    )
    assert json.loads(okr_json(tree)) == tree
    markdown = okr_markdown(tree)
    assert "## Increase customer retention" in markdown
    assert "- churn 12 % -\\> target \\< 10 % by 2026-12-31, 60 % of the way" in markdown
    assert "(retired)" in markdown


def test_retired_capability_stays_in_every_export() -> None:
    model = Model(capabilities=(Capability("old", "Old thing", status=Status.RETIRED),))
    assert "id-capability-old" in to_archimate(model)
    assert "<i>retired</i>" in to_mermaid(model)
    assert "capability old retired" in to_csv(model)
