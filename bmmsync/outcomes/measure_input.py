"""Measurements as typed by a person: one on the command line, or a CSV/JSON file of them.

Everything is checked against the map before anything is recorded: unknown motivators and
metrics (with a did-you-mean), values not in the target's form, dates that are not dates or
lie in the future. Every problem is reported, with its line, and none is recorded.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bmmsync.domain import Measurement, Model, Status
from bmmsync.errors import InputError
from bmmsync.outcomes.targets import TargetError, TargetSpec, parse_target, parse_value

COLUMNS = ("motivator", "metric", "value", "at")
REQUIRED = COLUMNS[:3]


@dataclass(frozen=True, slots=True)
class RawMeasurement:
    """One measurement as given, and where (`file:line`, or empty on the command line)."""

    where: str
    motivator: str
    metric: str
    value: Any
    at: str | None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    known = sorted(choices)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known: {', '.join(repr(k) for k in known)}" if known else ""


class MeasurementChecker:
    """Checks raw measurements against the map's active motivators and their targets."""

    def __init__(self, model: Model, today: date) -> None:
        self.today = today
        self.specs: dict[str, dict[str, TargetSpec | None]] = {}
        for m in model.motivators:
            if m.status is Status.ACTIVE:
                self.specs[m.id] = {t.metric: _spec_or_none(t.target) for t in m.targets}

    def check(self, raw: RawMeasurement) -> Measurement | str:
        """The measurement, or one problem line."""
        prefix = f"{raw.where}: " if raw.where else ""
        metrics = self.specs.get(raw.motivator)
        if metrics is None:
            hint = _did_you_mean(raw.motivator, self.specs)
            return f"{prefix}unknown motivator {raw.motivator!r}{hint}"
        if raw.metric not in metrics:
            if not metrics:
                return f"{prefix}motivator {raw.motivator!r} has no targets to measure"
            hint = _did_you_mean(raw.metric, metrics)
            return f"{prefix}motivator {raw.motivator!r} has no target {raw.metric!r}{hint}"
        spec = metrics[raw.metric]
        if spec is None:
            return f"{prefix}the target of {raw.metric!r} does not read; fix the map first"
        try:
            value = _value(raw.value, spec)
        except TargetError as exc:
            return f"{prefix}value: {exc}"
        try:
            at = self.today if raw.at in (None, "") else date.fromisoformat(str(raw.at))
        except ValueError:
            return f"{prefix}at: expected a date YYYY-MM-DD (got {raw.at!r})"
        if at > self.today:
            return f"{prefix}at: {at.isoformat()} is in the future (today is {self.today})"
        return Measurement(raw.motivator, raw.metric, at, value)

    def check_all(self, raws: Iterable[RawMeasurement]) -> list[Measurement]:
        """Every measurement, or `InputError` with every problem."""
        good: list[Measurement] = []
        problems: list[str] = []
        for raw in raws:
            result = self.check(raw)
            if isinstance(result, str):
                problems.append(result)
            else:
                good.append(result)
        if problems:
            raise InputError(problems)
        return good


def _spec_or_none(text: str) -> TargetSpec | None:
    try:
        return parse_target(text)
    except TargetError:
        return None


def _value(value: Any, spec: TargetSpec) -> float:
    if isinstance(value, bool) or value is None:
        raise TargetError(f"expected a number like the target {spec} (got {value!r})")
    if isinstance(value, int | float):
        return float(value)
    return parse_value(str(value), spec)


def read_csv(text: str, name: str) -> list[RawMeasurement]:
    """Rows of a CSV with the header `motivator,metric,value[,at]` (any order)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    expected = "a header motivator,metric,value and optionally at"
    if header is None:
        raise InputError([f"{name}:1: the file is empty; expected {expected}"])
    columns = [h.strip().lower().lstrip("\ufeff") for h in header]
    unknown = [c for c in columns if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        got = ",".join(header)
        raise InputError([f"{name}:1: expected {expected} (got {got!r})"])
    out = []
    problems = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            problems.append(f"{name}:{line}: expected {len(columns)} fields (got {len(row)})")
            continue
        cells = dict(zip(columns, (cell.strip() for cell in row), strict=True))
        out.append(_raw(f"{name}:{line}", cells))
    if problems:
        raise InputError(problems)
    return out


def read_json(text: str, name: str) -> list[RawMeasurement]:
    """A JSON list of objects with `motivator`, `metric`, `value` and optionally `at`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([f"{name}:{exc.lineno}: not JSON: {exc.msg}"]) from None
    if not isinstance(data, list):
        raise InputError([f"{name}: expected a list of measurements"])
    out = []
    problems = []
    for index, item in enumerate(data):
        where = f"{name}: item {index + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        unknown = sorted(set(item) - set(COLUMNS))
        missing = [c for c in REQUIRED if c not in item]
        if unknown or missing:
            what = [f"unknown key {k!r}" for k in unknown] + [f"missing {k!r}" for k in missing]
            problems.append(f"{where}: {', '.join(what)}")
            continue
        out.append(_raw(where, item))
    if problems:
        raise InputError(problems)
    return out


def _raw(where: str, cells: Mapping[str, Any]) -> RawMeasurement:
    at = cells.get("at")
    return RawMeasurement(
        where, str(cells["motivator"]), str(cells["metric"]), cells["value"], at or None
    )
