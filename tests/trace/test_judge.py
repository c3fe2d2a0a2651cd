"""Every reason code, every kind of provenance, scope rules and bad input, table-driven."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bmmsync.domain import LinkVia, Severity, Ticket
from bmmsync.trace.judge import Verdict, judge
from bmmsync.trace.reasons import Reason, reason_table
from bmmsync.trace.rules import MappingRules

from .factories import TODAY, demo_index, ticket


def run(
    tickets: list[Ticket], rules: MappingRules | None = None, **map_overrides: Any
) -> dict[str, Verdict]:
    verdicts = judge(tickets, demo_index(**map_overrides), rules or MappingRules(), TODAY)
    assert len(verdicts) == len(tickets)
    return {v.key: v for v in verdicts}


def one(t: Ticket, rules: MappingRules | None = None, others: tuple[Ticket, ...] = ()) -> Verdict:
    return run([t, *others], rules)[t.key]


# -- reason codes ---------------------------------------------------------------------------
REASON_CASES = [
    ("traced", ("cap:self-service-portal",), None, True),
    ("no-capability", ("bug",), Reason.NO_CAPABILITY, False),
    ("no-capability-empty", (), Reason.NO_CAPABILITY, False),
    ("unknown", ("cap:self-servce-portal",), Reason.UNKNOWN_CAPABILITY, False),
    ("ambiguous", ("cap:portal", "cap:data-export"), Reason.AMBIGUOUS_CAPABILITY, False),
    ("retired-capability", ("cap:old-portal",), Reason.RETIRED_CAPABILITY, False),
    ("no-decision", ("cap:no-decision",), Reason.CAPABILITY_WITHOUT_DECISION, False),
    ("only-retired-decision", ("cap:only-dropped",), Reason.CAPABILITY_WITHOUT_DECISION, False),
    ("no-motivator", ("cap:no-motivator",), Reason.DECISION_WITHOUT_MOTIVATOR, False),
    ("retired-motivator", ("cap:legacy-cap",), Reason.RETIRED_MOTIVATOR, False),
    ("review-overdue", ("cap:stale-cap",), Reason.MOTIVATOR_REVIEW_OVERDUE, True),
    ("one-fresh-motivator-is-enough", ("cap:mixed-cap",), None, True),
]


@pytest.mark.parametrize(
    ("name", "labels", "reason", "traced"), REASON_CASES, ids=[c[0] for c in REASON_CASES]
)
def test_reason_codes(
    name: str, labels: tuple[str, ...], reason: Reason | None, traced: bool
) -> None:
    verdict = one(ticket("ACME-1", *labels))
    assert verdict.in_scope
    assert verdict.traced is traced
    if reason is None:
        assert verdict.findings == ()
        assert verdict.primary is None
    else:
        assert verdict.primary is not None
        assert verdict.primary.reason == reason.value
        assert verdict.primary.ticket == "ACME-1"
        assert verdict.primary.source == "jira"
        assert verdict.primary.suggestion


def test_parent_missing_and_cycle() -> None:
    verdicts = run(
        [
            ticket("ACME-1", parent="ACME-404"),
            ticket("ACME-2", parent="ACME-3"),
            ticket("ACME-3", parent="ACME-2"),
            ticket("ACME-4", parent="ACME-2"),
            ticket("ACME-5", parent="ACME-5"),
        ]
    )
    assert verdicts["ACME-1"].reasons == ("parent-missing",)
    assert "ACME-404" in verdicts["ACME-1"].findings[0].detail
    for key in ("ACME-2", "ACME-3", "ACME-4", "ACME-5"):
        assert verdicts[key].reasons == ("parent-cycle",), key
    assert "ACME-2 -> ACME-3 -> ACME-2" in verdicts["ACME-4"].findings[0].detail


def test_review_overdue_severity_is_configurable() -> None:
    default = one(ticket("ACME-1", "cap:stale-cap"))
    assert default.findings[0].severity is Severity.WARNING and default.traced
    strict = one(
        ticket("ACME-1", "cap:stale-cap"), MappingRules(review_overdue_severity=Severity.ERROR)
    )
    assert strict.findings[0].severity is Severity.ERROR and not strict.traced


def test_a_review_is_overdue_the_day_after_its_date_not_on_it() -> None:
    """Past its review date, as the README says: the `stale` motivator is due 2026-01-01."""
    t = ticket("ACME-1", "cap:stale-cap")
    on_the_day, day_after = (
        judge([t], demo_index(), MappingRules(), today)[0]
        for today in (date(2026, 1, 1), date(2026, 1, 2))
    )
    assert on_the_day.findings == ()
    assert [f.reason for f in day_after.findings] == [Reason.MOTIVATOR_REVIEW_OVERDUE]


def test_allow_multiple() -> None:
    t = ticket("ACME-1", "cap:portal", "cap:data-export")
    verdict = one(t, MappingRules(allow_multiple=True))
    assert verdict.traced
    assert {c.capability for c in verdict.chain} == {"self-service-portal", "data-export"}


def test_same_capability_twice_is_not_ambiguous() -> None:
    verdict = one(ticket("ACME-1", "cap:portal", "CAP:Self-Service-Portal"))
    assert verdict.traced
    assert len(verdict.links) == 2


def test_findings_are_ordered_by_severity() -> None:
    rules = MappingRules(allow_multiple=True)
    verdict = one(ticket("ACME-1", "cap:stale-cap", "cap:no-decision", "cap:nope"), rules)
    severities = [f.severity for f in verdict.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert verdict.primary is not None and verdict.primary.severity is Severity.ERROR
    assert set(verdict.reasons) == {
        "unknown-capability",
        "capability-without-decision",
        "motivator-review-overdue",
    }


# -- suggestions ----------------------------------------------------------------------------
def test_unknown_suggests_closest() -> None:
    verdict = one(ticket("ACME-1", "cap:self-servce-portal"))
    assert "did you mean `cap:self-service-portal`" in verdict.findings[0].suggestion.lower()


def test_unknown_without_close_match_lists_capabilities() -> None:
    verdict = one(ticket("ACME-1", "cap:zzzzzzzzzzzz"))
    assert "ask the map admins to add" in verdict.findings[0].suggestion


def test_no_capability_suggests_project_usage_and_exempt_label() -> None:
    verdicts = run(
        [
            ticket("ACME-1"),
            ticket("ACME-2", "cap:data-export"),
            ticket("ACME-3", "cap:data-export"),
            ticket("ACME-4", "cap:portal"),
        ],
        MappingRules(capability_field="Capability"),
    )
    suggestion = verdicts["ACME-1"].findings[0].suggestion
    assert suggestion.startswith("Add a label such as `cap:data-export`")
    assert "`cap:self-service-portal`" in suggestion
    assert "`Capability` field" in suggestion
    assert "`no-trace`" in suggestion


def test_retired_capability_names_alternatives() -> None:
    verdict = one(ticket("ACME-1", "cap:old-portal"))
    assert "`cap:self-service-portal`" in verdict.findings[0].suggestion
    gone = one(ticket("ACME-2", "cap:gone"))
    assert "Ask the map admins" in gone.findings[0].suggestion


def test_suggestion_uses_first_label_pattern() -> None:
    rules = MappingRules(capability_labels=("capability/{id}", "cap:{id}"))
    verdict = one(ticket("ACME-1", "cap:self-servce-portal"), rules)
    assert "`capability/self-service-portal`" in verdict.findings[0].suggestion


# -- provenance -----------------------------------------------------------------------------
LABEL_CASES = [
    ("plain", MappingRules(), "cap:self-service-portal"),
    ("alias", MappingRules(), "cap:portal"),
    ("alias-other-case", MappingRules(), "CAP:SSP"),
    ("odd-spacing", MappingRules(), "  CAP :  Self Service Portal "),
    ("name", MappingRules(), "cap:Self Service Portal"),
    ("fullwidth-colon", MappingRules(), "cap：portal"),
    ("fullwidth-letters", MappingRules(), "ｃａｐ:portal"),
    ("zero-width", MappingRules(), "cap:\u200bportal"),
    (
        "second-pattern",
        MappingRules(capability_labels=("cap:{id}", "capability/{id}")),
        "Capability / portal",
    ),
    ("suffix-pattern", MappingRules(capability_labels=("{id} (cap)",)), "portal (CAP)"),
    ("bare-pattern", MappingRules(capability_labels=("{id}",)), "Portal"),
]


@pytest.mark.parametrize(("name", "rules", "label"), LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_label_provenance(name: str, rules: MappingRules, label: str) -> None:
    verdict = one(ticket("ACME-1", label, "bug"), rules)
    assert verdict.traced, verdict.findings
    (link,) = verdict.links
    assert link.capability == "self-service-portal"
    assert link.via is LinkVia.LABEL
    assert link.origin == label
    assert link.provenance == f"label {label}"


def test_bare_pattern_ignores_ordinary_labels() -> None:
    verdict = one(ticket("ACME-1", "bug", "frontend"), MappingRules(capability_labels=("{id}",)))
    assert verdict.reasons == ("no-capability",)


FIELD_CASES: list[tuple[str, str, Any, str | None]] = [
    ("string", "Capability", "self-service-portal", "self-service-portal"),
    ("string-name", "Capability", "Self-service portal", "self-service-portal"),
    ("string-label", "Capability", "cap:portal", "self-service-portal"),
    ("select-value", "Capability", {"value": "Data Export", "id": "10001"}, "data-export"),
    ("select-name", "Capability", {"name": "export"}, "data-export"),
    ("list", "Capability", [{"value": "portal"}], "self-service-portal"),
    ("github-type", "type", "Self Service Portal", "self-service-portal"),
]


@pytest.mark.parametrize(
    ("name", "field", "value", "expected"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES]
)
def test_field_provenance(name: str, field: str, value: Any, expected: str) -> None:
    rules = MappingRules(capability_field=field)
    verdict = one(ticket("ACME-1", fields={field: value}), rules)
    assert verdict.traced, verdict.findings
    (link,) = verdict.links
    assert (link.capability, link.via, link.origin) == (expected, LinkVia.FIELD, field)
    assert link.provenance == f"field {field}"


BAD_FIELD_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("null", None, ("no-capability",)),
    ("empty-string", "  ", ("no-capability",)),
    ("empty-list", [], ("no-capability",)),
    ("list-of-null", [None], ("no-capability",)),
    ("object", {"id": 10001}, ("unknown-capability",)),
    ("number", 42, ("unknown-capability",)),
    ("unknown-text", "portl", ("unknown-capability",)),
    ("nested-lists", [[["portal"]]], ()),
    ("two-in-list", ["portal", "export"], ("ambiguous-capability",)),
]


@pytest.mark.parametrize(
    ("name", "value", "reasons"), BAD_FIELD_CASES, ids=[c[0] for c in BAD_FIELD_CASES]
)
def test_odd_field_values_end_in_findings(name: str, value: Any, reasons: tuple[str, ...]) -> None:
    verdict = one(
        ticket("ACME-1", fields={"Capability": value}), MappingRules(capability_field="Capability")
    )
    assert verdict.reasons == reasons


def test_label_and_field_together() -> None:
    rules = MappingRules(capability_field="Capability")
    verdict = one(ticket("ACME-1", "cap:portal", fields={"Capability": "portal"}), rules)
    assert verdict.traced
    assert {link.via for link in verdict.links} == {LinkVia.LABEL, LinkVia.FIELD}


@pytest.mark.parametrize("depth", [1, 3])
def test_inherited_at_depth(depth: int) -> None:
    chain = [ticket("ACME-0", "cap:portal")]
    for i in range(1, depth + 1):
        chain.append(ticket(f"ACME-{i}", parent=f"ACME-{i - 1}"))
    verdicts = run(list(reversed(chain)))
    leaf = verdicts[f"ACME-{depth}"]
    assert leaf.traced
    (link,) = leaf.links
    assert (link.capability, link.via, link.origin) == (
        "self-service-portal",
        LinkVia.INHERITED,
        "ACME-0",
    )
    assert link.provenance == "inherited from ACME-0"


def test_own_capability_wins_over_inherited() -> None:
    verdicts = run(
        [ticket("ACME-1", "cap:portal"), ticket("ACME-2", "cap:export", parent="ACME-1")]
    )
    (link,) = verdicts["ACME-2"].links
    assert (link.capability, link.via) == ("data-export", LinkVia.LABEL)


def test_own_unknown_does_not_fall_back_to_parent() -> None:
    verdicts = run([ticket("ACME-1", "cap:portal"), ticket("ACME-2", "cap:portl", parent="ACME-1")])
    assert verdicts["ACME-2"].reasons == ("unknown-capability",)


def test_inherited_broken_link_names_the_ancestor() -> None:
    verdicts = run([ticket("ACME-1", "cap:portl"), ticket("ACME-2", parent="ACME-1")])
    finding = verdicts["ACME-2"].findings[0]
    assert finding.reason == "unknown-capability" and "ACME-1" in finding.detail


def test_inheritance_can_be_switched_off() -> None:
    tickets = [ticket("ACME-1", "cap:portal"), ticket("ACME-2", parent="ACME-1")]
    verdicts = run(tickets, MappingRules(inherit_from_parent=False))
    assert verdicts["ACME-2"].reasons == ("no-capability",)


def test_parents_are_looked_up_within_the_same_source() -> None:
    verdicts = run(
        [ticket("X-1", "cap:portal", source="jira-a"), ticket("X-2", parent="X-1", source="jira-b")]
    )
    assert verdicts["X-2"].reasons == ("parent-missing",)


def test_closed_parent_still_lends_its_capability() -> None:
    verdicts = run([ticket("ACME-1", "cap:portal", closed=True), ticket("ACME-2", parent="ACME-1")])
    assert not verdicts["ACME-1"].in_scope
    assert verdicts["ACME-2"].traced


def test_thousand_deep_chain() -> None:
    tickets = [ticket("ACME-0", "cap:portal")]
    tickets += [ticket(f"ACME-{i}", parent=f"ACME-{i - 1}") for i in range(1, 1001)]
    verdicts = run(list(reversed(tickets)))
    assert all(v.traced for v in verdicts.values())
    assert verdicts["ACME-1000"].links[0].origin == "ACME-0"


def test_thousand_deep_chain_ending_in_a_cycle() -> None:
    tickets = [ticket(f"ACME-{i}", parent=f"ACME-{i - 1}") for i in range(1, 1001)]
    tickets.append(ticket("ACME-0", parent="ACME-1000"))
    verdicts = run(tickets)
    assert {v.reasons for v in verdicts.values()} == {("parent-cycle",)}


# -- scope ----------------------------------------------------------------------------------
SCOPE_CASES: list[tuple[str, MappingRules, dict[str, Any], str | None]] = [
    ("open", MappingRules(), {}, None),
    ("closed", MappingRules(), {"closed": True}, "closed"),
    ("state-closed", MappingRules(), {"state": "closed"}, "closed"),
    ("closed-not-ignored", MappingRules(ignore_closed=False), {"closed": True}, None),
    ("pull-request", MappingRules(), {"is_pull_request": True}, "pull-request"),
    (
        "pull-request-even-if-closed-allowed",
        MappingRules(ignore_closed=False),
        {"is_pull_request": True},
        "pull-request",
    ),
    ("exempt", MappingRules(), {"labels": ("No-Trace",)}, "exempt"),
    ("exempt-custom", MappingRules(exempt_labels=("spike",)), {"labels": ("SPIKE",)}, "exempt"),
    (
        "ignored-type",
        MappingRules(ignore_types=("Sub-task",)),
        {"type": "sub-task"},
        "ignored-type",
    ),
    ("type-not-ignored", MappingRules(ignore_types=("Epic",)), {"type": "Story"}, None),
]


@pytest.mark.parametrize(
    ("name", "rules", "kw", "expected"), SCOPE_CASES, ids=[c[0] for c in SCOPE_CASES]
)
def test_scope(name: str, rules: MappingRules, kw: dict[str, Any], expected: str | None) -> None:
    labels = kw.pop("labels", ())
    verdict = one(ticket("ACME-1", *labels, **kw), rules)
    assert verdict.scope_reason == expected
    assert verdict.in_scope is (expected is None)
    if expected is not None:
        assert verdict.findings == ()
        assert not verdict.traced


def test_exemption_is_inherited_by_children_without_capability() -> None:
    verdicts = run(
        [
            ticket("ACME-1", "no-trace"),
            ticket("ACME-2", parent="ACME-1"),
            ticket("ACME-3", parent="ACME-2"),
            ticket("ACME-4", "cap:portal", parent="ACME-1"),
        ]
    )
    assert verdicts["ACME-3"].scope_reason == "exempt"
    assert verdicts["ACME-4"].traced


# The public reason codes and their default severities, written out by hand: trackers carry
# these codes in labels and comments, so a rename or a severity change must fail here.
PUBLIC_REASONS = [
    ("no-capability", "error"),
    ("unknown-capability", "error"),
    ("ambiguous-capability", "error"),
    ("retired-capability", "error"),
    ("capability-without-decision", "error"),
    ("decision-without-motivator", "error"),
    ("retired-motivator", "error"),
    ("motivator-review-overdue", "warning"),
    ("parent-missing", "error"),
    ("parent-cycle", "error"),
    ("map-capability-without-decision", "error"),
    ("map-decision-without-motivator", "error"),
    ("map-motivator-without-decision", "warning"),
    ("map-capability-without-work", "info"),
    ("map-motivator-review-overdue", "warning"),
    ("map-target-unassessed", "warning"),
    ("map-dangling-reference", "error"),
    ("map-key-conflict", "warning"),
]


def test_reason_table_is_the_public_table() -> None:
    rows = reason_table()
    assert [(code, severity) for code, severity, _ in rows] == PUBLIC_REASONS
    assert all(meaning.endswith(".") and len(meaning) > 20 for _, _, meaning in rows)
    assert [(code, severity) for code, severity, _ in reason_table(include_map=False)] == [
        row for row in PUBLIC_REASONS if not row[0].startswith("map-")
    ]


BAD_LABELS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("dict-label", ("cap:portal", {"name": "x"}), ()),
    ("none-label", (None, "cap:portal"), ()),
    ("int-label", (42,), ("no-capability",)),
    ("list-instead-of-tuple", ["cap:portal"], ()),
    ("labels-none", None, ("no-capability",)),
    ("empty-label", ("", "   "), ("no-capability",)),
    ("only-prefix", ("cap:",), ("no-capability",)),
]


@pytest.mark.parametrize(("name", "labels", "reasons"), BAD_LABELS, ids=[c[0] for c in BAD_LABELS])
def test_bad_labels_never_crash(name: str, labels: Any, reasons: tuple[str, ...]) -> None:
    bad = Ticket(source="jira", key="ACME-1", title="x", labels=labels)
    assert one(bad).reasons == reasons


BAD_FIELDS: list[tuple[str, Any, str, str]] = [
    ("fields-none", None, "no-capability", "names no capability"),
    ("fields-list", [], "no-capability", "names no capability"),
    ("fields-text", "text", "no-capability", "names no capability"),
    ("option-without-value", {"Capability": {"value": None}}, "unknown-capability", "{'value'"),
    ("number", {"Capability": 42}, "unknown-capability", "holds 42"),
    ("list-with-none", {"Capability": ["x", None]}, "unknown-capability", "holds `x`"),
]


@pytest.mark.parametrize(
    ("name", "fields", "reason", "detail"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS]
)
def test_bad_fields_never_crash_and_say_why(
    name: str, fields: Any, reason: str, detail: str
) -> None:
    bad = Ticket(source="jira", key="ACME-1", title="x", fields=fields)
    verdict = one(bad, MappingRules(capability_field="Capability"))
    assert verdict.in_scope and not verdict.traced
    assert verdict.reasons == (reason,)
    assert verdict.primary is not None and detail in verdict.primary.detail


def test_parent_missing_suggests_a_capability_of_the_project() -> None:
    verdicts = run([ticket("ACME-1", parent="ACME-404"), ticket("ACME-2", "cap:export")])
    suggestion = verdicts["ACME-1"].findings[0].suggestion
    assert "`cap:data-export`" in suggestion and "`ACME-404`" in suggestion
