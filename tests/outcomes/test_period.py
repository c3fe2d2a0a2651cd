"""Report periods: durations, quarters, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bmmsync.outcomes.period import PeriodError, parse_period

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)


def test_periods() -> None:
    q3 = parse_period("2026Q3", None, None, NOW)
    assert (q3.start, q3.end, q3.label) == (
        datetime(2026, 7, 1, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=UTC),
        "2026Q3",
    )
    assert parse_period("last-quarter", None, None, NOW).label == "2026Q3"
    assert parse_period("last-quarter", None, None, datetime(2027, 2, 1, tzinfo=UTC)).label == (
        "2026Q4"
    )
    assert parse_period("90d", None, None, NOW).start == NOW - timedelta(days=90)
    assert parse_period(None, None, None, NOW).start == NOW - timedelta(days=90)
    dates = parse_period(None, "2026-10-01", "2026-10-31", NOW)
    assert (dates.start, dates.end) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),  # --to is inclusive
    )
    assert datetime(2026, 10, 31, 23, 59, tzinfo=UTC) in dates


@pytest.mark.parametrize(
    ("since", "start", "end", "message"),
    [
        ("2026Q5", None, None, "a quarter such as 2026Q3"),
        ("90d", "2026-01-01", None, "not both"),
        (None, "2026-10-31", "2026-10-01", "is after"),
        (None, "01/10/2026", None, "--from: expected a date"),
    ],
)
def test_bad_periods(since: str | None, start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(since, start, end, NOW)
