"""The period a report covers: `90d` back from now, a quarter such as `2026Q3`, or dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


class PeriodError(ValueError):
    """A period that does not read; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Period:
    """`[start, end)` in UTC, and how the user named it."""

    start: datetime
    end: datetime
    label: str

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    @property
    def weeks(self) -> float:
        return (self.end - self.start) / timedelta(weeks=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def quarter(year: int, number: int) -> Period:
    start = date(year, 3 * number - 2, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return Period(_midnight(start), _midnight(end), f"{year}Q{number}")


def last_quarter(today: date) -> Period:
    """The last complete calendar quarter before `today`."""
    number = (today.month - 1) // 3 + 1
    return quarter(today.year - 1, 4) if number == 1 else quarter(today.year, number - 1)


def parse_period(since: str | None, start: str | None, end: str | None, now: datetime) -> Period:
    """`since` is `90d`, `12w`, `2026Q3`, `last-quarter` or a date; `start`/`end` are dates
    (`end` inclusive). Given nothing: the last 90 days. Raises `PeriodError`."""
    if since is not None and (start is not None or end is not None):
        raise PeriodError("give either --period or --from/--to, not both")
    if start is not None or end is not None:
        first = _date(start, "--from") if start else None
        last = _date(end, "--to") if end else now.date()
        begin = _midnight(first) if first else now - timedelta(days=90)
        finish = _midnight(last + timedelta(days=1))
        if begin >= finish:
            raise PeriodError(f"--from {start} is after --to {end}")
        label = f"{(first or begin.date()).isoformat()} to {last.isoformat()}"
        return Period(begin, finish, label)
    text = (since or "90d").strip()
    if text == "last-quarter":
        return last_quarter(now.date())
    found = _QUARTER.match(text)
    if found:
        return quarter(int(found.group(1)), int(found.group(2)))
    found = _DURATION.match(text)
    if found:
        days = int(found.group(1)) * (7 if found.group(2) == "w" else 1)
        return Period(now - timedelta(days=days), now, f"last {text}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            "expected 90d, 12w, a quarter such as 2026Q3, last-quarter, or a date "
            f"YYYY-MM-DD (got {text!r})"
        ) from None
    return Period(_midnight(day), now, f"since {text}")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{option}: expected a date YYYY-MM-DD (got {text!r})") from None
