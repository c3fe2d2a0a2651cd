"""Key-result targets and values: strict parsing (property-based), met and progress."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmmsync.outcomes.targets import TargetError, TargetSpec, parse_target, parse_value

OPS = ["<", "<=", ">", ">=", "="]
numbers = st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False)


@given(
    op=st.sampled_from(OPS), number=numbers, percent=st.booleans(), pad=st.sampled_from(["", " "])
)
def test_every_well_formed_target_reads_back(
    op: str, number: object, percent: bool, pad: str
) -> None:
    text = f"{pad}{op}{pad}{number}{pad}{'%' if percent else ''}{pad}"
    spec = parse_target(text)
    assert (spec.op, spec.threshold, spec.percent) == (op, float(str(number)), percent)
    assert parse_target(str(spec)) == spec  # the shown form is itself a valid target


@given(st.text(max_size=12))
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    try:
        spec = parse_target(text)
    except TargetError as exc:
        assert "a comparison and a number" in str(exc)
    else:  # only texts of the strict grammar get through
        assert text.strip()[0] in "<>=≤≥"
        assert spec.op in OPS


@pytest.mark.parametrize("text", ["100%", "about 5", "< 4,5", "<< 3", "< 10 %%", "< 1e3", "<", ""])
def test_vague_targets_are_errors(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)


@pytest.mark.parametrize(
    ("text", "value", "met"),
    [
        ("< 10%", 9.9, True),
        ("< 10%", 10.0, False),
        ("<= 5", 5.0, True),
        (">= 99.9%", 99.95, True),
        ("> 3", 3.0, False),
        ("≥ 3", 3.0, True),
        ("== 0", 0.0, True),
        ("= 0", 0.1, False),
    ],
)
def test_met(text: str, value: float, met: bool) -> None:
    assert parse_target(text).met(value) is met


@given(
    op=st.sampled_from(OPS),
    threshold=st.floats(-1000, 1000),
    baseline=st.floats(-1000, 1000),
    current=st.floats(-1000, 1000),
)
def test_progress_is_a_share_and_one_exactly_when_met(
    op: str, threshold: float, baseline: float, current: float
) -> None:
    spec = TargetSpec(op, threshold)
    progress = spec.progress(baseline, current)
    assert 0.0 <= progress <= 1.0
    if spec.met(current):
        assert progress == 1.0


def test_progress_example_from_the_issue() -> None:
    spec = parse_target("< 10%")
    assert spec.progress(15.0, 12.0) == pytest.approx(0.6)
    assert spec.progress(12.0, 13.0) == 0.0  # moving away is no progress


@pytest.mark.parametrize(
    ("target", "text", "value"),
    [("< 10%", "12%", 12.0), ("< 10%", " 12 ", 12.0), (">= 4.5", "-3.25", -3.25)],
)
def test_values_in_the_targets_form(target: str, text: str, value: float) -> None:
    assert parse_value(text, parse_target(target)) == value


@pytest.mark.parametrize(
    ("target", "text", "message"),
    [
        (">= 4.5", "5%", "not a percentage"),
        ("< 10%", "twelve", "a number, optionally with %"),
        ("= 0", "1,5", "a number without %"),
    ],
)
def test_values_not_in_the_targets_form(target: str, text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_value(text, parse_target(target))


@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32), percent=st.booleans())
def test_shown_values_parse_back(value: float, percent: bool) -> None:
    spec = TargetSpec("<", 1.0, percent)
    shown = spec.show(value).replace(" %", "%")
    assert parse_value(shown, spec) == pytest.approx(value, rel=1e-6, abs=1e-6)
