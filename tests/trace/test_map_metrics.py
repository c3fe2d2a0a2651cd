"""Map findings for admins, and metrics."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bmmsync.domain import Finding, Severity, Status
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge
from bmmsync.trace.map_findings import capabilities_worked_on, map_findings
from bmmsync.trace.metrics import compute_metrics
from bmmsync.trace.rules import MappingRules

from .factories import (
    TODAY,
    assessment,
    capability,
    decision,
    demo_index,
    demo_model,
    motivator,
    target,
    ticket,
)


def reasons_for(findings: list[Finding], entity: str) -> set[str]:
    return {f.reason for f in findings if f"`{entity}`" in f.detail}


MAP_CASES = [
    ("no-decision", "map-capability-without-decision"),
    ("only-dropped", "map-capability-without-decision"),
    ("orphan-decision", "map-decision-without-motivator"),
    ("stale", "map-motivator-review-overdue"),
    ("data-export", "map-capability-without-work"),
]


@pytest.mark.parametrize(("entity", "reason"), MAP_CASES)
def test_map_findings(entity: str, reason: str) -> None:
    index = demo_index()
    findings = map_findings(index, TODAY, worked_on={"self-service-portal"})
    assert reason in reasons_for(findings, entity)
    assert all(f.ticket == "" for f in findings)


def test_healthy_entities_have_no_findings() -> None:
    findings = map_findings(demo_index(), TODAY, worked_on={"self-service-portal"})
    assert reasons_for(findings, "self-service-portal") == set()
    assert reasons_for(findings, "retention") == set()
    assert reasons_for(findings, "old-portal") == set(), "retired entries are not flagged"


def test_motivator_without_decision_and_dangling_reference() -> None:
    model = demo_model(
        motivators=(motivator("lonely"), motivator("retention")),
        decisions=(decision("onboarding", "retention", "ghost"),),
        capabilities=(capability("portal", "onboarding", "nope"),),
    )
    findings = map_findings(MapIndex(model), TODAY)
    assert "map-motivator-without-decision" in reasons_for(findings, "lonely")
    assert "map-dangling-reference" in reasons_for(findings, "onboarding")
    assert "map-dangling-reference" in reasons_for(findings, "portal")
    assert "map-capability-without-work" not in {f.reason for f in findings}


def test_target_unassessed() -> None:
    due = date(2026, 3, 31)
    model = demo_model(
        motivators=(
            motivator("churn", targets=(target("churn", "< 10%", due),)),
            motivator("assessed", targets=(target("churn", "< 10%", due),)),
            motivator("future", targets=(target("churn", "< 10%", date(2027, 1, 1)),)),
        ),
        assessments=(assessment("assessed", date(2026, 4, 2), 8.0),),
    )
    findings = map_findings(MapIndex(model), TODAY)
    assert "map-target-unassessed" in reasons_for(findings, "churn")
    assert "map-target-unassessed" not in reasons_for(findings, "assessed")
    assert "map-target-unassessed" not in reasons_for(findings, "future")


def test_key_conflict() -> None:
    model = demo_model(
        capabilities=(
            capability("portal", "onboarding"),
            capability("web", "onboarding", aliases=("Portal",)),
        )
    )
    index = MapIndex(model)
    findings = map_findings(index, TODAY)
    assert any(f.reason == "map-key-conflict" for f in findings)
    assert index.find_capability("PORTAL") == "portal", "an id beats an alias"


def test_map_findings_are_sorted_by_severity() -> None:
    findings = map_findings(demo_index(), TODAY, worked_on=())
    ranks = [["error", "warning", "info"].index(f.severity.value) for f in findings]
    assert ranks == sorted(ranks)
    assert findings[-1].severity is Severity.INFO


def test_capabilities_worked_on_ignores_closed_and_includes_inherited() -> None:
    tickets = [
        ticket("ACME-1", "cap:portal", closed=True),
        ticket("ACME-2", parent="ACME-1"),
        ticket("ACME-3", "cap:export", closed=True),
    ]
    assert capabilities_worked_on(tickets, demo_index(), MappingRules()) == {"self-service-portal"}


def test_metrics() -> None:
    due = date(2026, 3, 31)
    model = demo_model(
        motivators=(
            motivator("retention", targets=(target("churn", "< 10%", due),)),
            motivator("privacy-law", targets=(target("exports", ">= 99%", due),)),
            motivator("vague", targets=(target("mood", "better", due),)),
            motivator("later", targets=(target("x", "< 1", date(2027, 1, 1)),)),
            motivator("unanswered"),
            motivator("gone", status=Status.RETIRED, targets=(target("x", "< 1", due),)),
        ),
        assessments=(
            assessment("retention", date(2026, 1, 1), 14.0),
            assessment("retention", date(2026, 3, 30), 9.0),
            assessment("retention", date(2026, 4, 30), 12.0),
            assessment("privacy-law", date(2026, 3, 1), 97.0),
            assessment("vague", date(2026, 3, 1), 1.0),
        ),
        decisions=(decision("onboarding", "retention"), decision("export-data", "privacy-law")),
        capabilities=(
            capability("self-service-portal", "onboarding", aliases=("portal",)),
            capability("data-export", "export-data"),
            capability("idle", "onboarding"),
        ),
    )
    index = MapIndex(model)
    tickets = [
        ticket("ACME-1", "cap:portal", story_points=5),
        ticket("ACME-2", "cap:portal", story_points=3),
        ticket("ACME-3", story_points=2),
        ticket("ACME-4"),
        ticket("ACME-5", "cap:portal", closed=True, story_points=8),
        ticket("gh#1", "cap:data-export", source="github", project="acme/web"),
    ]
    verdicts = judge(tickets, index, MappingRules(), TODAY)
    metrics = compute_metrics(verdicts, index, TODAY)
    overall = metrics.overall
    assert (overall.tickets, overall.in_scope, overall.traced) == (6, 5, 3)
    assert overall.traceability == pytest.approx(0.6)
    assert overall.work == 5 + 3 + 2 + 1 + 1
    assert overall.debt_ratio == pytest.approx(3 / 12)
    assert overall.by_reason == {"no-capability": 2}
    assert metrics.by_source["github"].traceability == 1.0
    assert metrics.by_project["jira:ACME"].in_scope == 4
    assert metrics.by_capability["self-service-portal"].traced == 2
    goals = metrics.goals
    assert (goals.due, goals.achieved) == (3, 1)
    assert goals.achieved_ids == ["retention: churn"]
    assert goals.missed_ids == ["privacy-law: exports", "vague: mood"]
    assert goals.unparseable == ["vague: mood"]
    assert goals.rate == pytest.approx(1 / 3)
    coverage = metrics.coverage
    assert coverage.idle_capabilities == ["idle"]
    assert coverage.capability_coverage == pytest.approx(2 / 3)
    assert coverage.undecided_motivators == ["later", "unanswered", "vague"]
    snapshot = json.loads(json.dumps(metrics.as_dict()))
    assert snapshot["overall"]["traceability"] == pytest.approx(0.6)


def test_metrics_over_nothing_are_none() -> None:
    index = MapIndex(demo_model(motivators=(), decisions=(), capabilities=()))
    metrics = compute_metrics([], index, TODAY)
    assert metrics.overall.traceability is None
    assert metrics.overall.debt_ratio is None
    assert metrics.goals.rate is None
    assert metrics.coverage.capability_coverage is None
