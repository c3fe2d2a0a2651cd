"""The model file: valid input, round trips, and every problem located at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bmmsync import domain
from bmmsync.config.model_file import dump_model, load_model

from .helpers import MODEL, problems_of, write

REPO = Path(__file__).resolve().parents[2]


def test_the_contract_example_loads(tmp_path: Path) -> None:
    model = load_model(write(tmp_path, "model.yaml", MODEL))
    [retention] = model.motivators
    assert retention.kind is domain.MotivatorKind.EXTERNAL
    assert retention.review_by == date(2027, 1, 31)
    assert retention.targets == (domain.Target("churn", "< 10%", date(2026, 12, 31)),)
    assert model.assessments[0].value == 14
    assert model.decisions[0].motivators == ("retention",)
    assert model.capabilities[0].aliases == ("portal",)
    assert model.actions[0].capability == "self-service-portal"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dump_round_trips(tmp_path: Path, fmt: str) -> None:
    model = load_model(REPO / "config" / "model.example.yaml")
    text = dump_model(model, fmt)  # type: ignore[arg-type]
    assert load_model(write(tmp_path, f"again.{fmt}", text)) == model


def test_dump_leaves_defaults_out() -> None:
    model = domain.Model(decisions=(domain.Decision("d", "D"),))
    assert dump_model(model) == "decisions:\n- id: d\n  name: D\n"


def test_empty_file_is_an_empty_model(tmp_path: Path) -> None:
    assert load_model(write(tmp_path, "m.yaml", "")) == domain.Model()


def test_unknown_references_suggest_the_closest_id(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """\
        motivators: [{id: retention, name: R}]
        assessments: [{motivator: retension, date: 2026-09-30, statement: s}]
        decisions: [{id: onboarding, name: O, motivators: [retention, growth]}]
        capabilities:
          - {id: portal-x, name: P, decisions: [onboarding], aliases: [portal]}
          - {id: mobile, name: M, decisions: [onbording], parent: portal}
        actions: [{capability: mobil, description: d}]
        """,
    )
    assert problems_of(load_model, path) == [
        f"{path}:2: assessments[0].motivator: unknown motivator 'retension';"
        " did you mean 'retention'?",
        f"{path}:3: decisions[0].motivators[1]: unknown motivator 'growth'",
        f"{path}:6: capabilities[1].decisions[0]: unknown decision 'onbording';"
        " did you mean 'onboarding'?",
        f"{path}:6: capabilities[1].parent: 'portal' is an alias; use the id 'portal-x'",
        f"{path}:7: actions[0].capability: unknown capability 'mobil'; did you mean 'mobile'?",
    ]


def test_duplicate_ids_and_aliases(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """\
        decisions:
          - {id: d, name: D}
          - {id: d, name: D again}
        capabilities:
          - {id: a, name: A, aliases: [x]}
          - {id: b, name: B, aliases: [x, a]}
          - {id: a, name: A again}
        """,
    )
    assert problems_of(load_model, path) == [
        f"{path}:3: decisions[1].id: duplicate decision id 'd' (first at line 2)",
        f"{path}:6: capabilities[1].aliases[0]: alias 'x' is already an alias of capability 'a'",
        f"{path}:6: capabilities[1].aliases[1]: alias 'a' is already the id of capability 'a'"
        " (line 5)",
        f"{path}:7: capabilities[2].id: duplicate capability id 'a' (first at line 5)",
    ]


def test_parent_cycles_are_reported_once_each(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """\
        capabilities:
          - {id: root, name: Root}
          - {id: a, name: A, parent: b}
          - {id: b, name: B, parent: c}
          - {id: c, name: C, parent: a}
          - {id: self, name: S, parent: self}
          - {id: leaf, name: L, parent: a}
        """,
    )
    assert problems_of(load_model, path) == [
        f"{path}:3: capabilities[1].parent: cycle of capability parents: a -> b -> c -> a",
        f"{path}:6: capabilities[4].parent: cycle of capability parents: self -> self",
    ]


def test_shape_problems_in_every_entry_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """\
        motivators:
          - {id: m, name: M, kind: outside, review_by: 2027-13-01}
          - {id: has space, name: S}
          - {name: no id}
        decisions: {id: d}
        capabilities: [{id: c, name: C, colour: red, decisions: d}]
        goals: []
        """,
    )
    assert problems_of(load_model, path) == [
        f"{path}:2: motivators[0].kind: expected one of 'internal', 'external' (got 'outside')",
        f"{path}:2: motivators[0].review_by: expected a valid date or datetime,"
        " month value is outside expected range of 1-12 (got '2027-13-01')",
        f"{path}:3: motivators[1].id: expected an id without spaces or commas (got 'has space')",
        f"{path}:4: motivators[2].id: required key is missing",
        f"{path}:5: decisions: expected a list (got a mapping)",
        f"{path}:6: capabilities[0].decisions: expected a valid list (got 'd')",
        f"{path}:6: capabilities[0].colour: unknown key; expected one of 'aliases', 'decisions',"
        " 'id', 'name', 'parent', 'status'",
        f"{path}:7: goals: unknown key; expected one of 'actions', 'assessments',"
        " 'capabilities', 'decisions', 'motivators', 'resources'",
    ]


def test_unknown_key_in_an_entry_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "decisions:\n  - id: d\n    name: D\n    motivator: [m]\n")
    assert problems_of(load_model, path) == [
        f"{path}:4: decisions[0].motivator: unknown key; did you mean 'motivators'?"
    ]


def test_malformed_model_file(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "decisions:\n  - id: d\n   name: x\n")
    [problem] = problems_of(load_model, path)
    assert problem.startswith(f"{path}:3: YAML syntax error: ")
