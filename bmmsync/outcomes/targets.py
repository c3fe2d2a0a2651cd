"""A key result's target (`< 10%`, `>= 4.5`, `= 0`) and the values measured against it.

Parsed strictly: a comparison, a number with a decimal point, and `%` only when the target is
a percentage. Anything else is an error that says what was expected, so a map with a vague
target ("100%", "about 5") is refused where it is written, not silently counted as missed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_TARGET = re.compile(r"^\s*(<=|>=|==|=|<|>|≤|≥)\s*([-+]?\d+(?:\.\d+)?)\s*(%?)\s*$")
_VALUE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(%?)\s*$")
_CANONICAL = {"<": "<", "<=": "<=", "≤": "<=", ">": ">", ">=": ">=", "≥": ">=", "=": "=", "==": "="}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
}
EXPECTED_TARGET = "a comparison and a number, such as '< 10%', '>= 4.5' or '= 0'"


class TargetError(ValueError):
    """A target or a measured value that does not read; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """`op` is one of `<`, `<=`, `>`, `>=`, `=`; `percent` says the figures are percentages."""

    op: str
    threshold: float
    percent: bool = False

    def met(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.threshold)

    def show(self, value: float) -> str:
        """A value in this target's form: `12 %` or `4.5`."""
        number = f"{value:.6f}".rstrip("0").rstrip(".")  # never an exponent: it must read back
        return f"{number} %" if self.percent else number

    def __str__(self) -> str:
        return f"{self.op} {self.show(self.threshold)}"

    def progress(self, baseline: float, current: float) -> float:
        """Share of the way from `baseline` to the threshold (0..1). Met is 1; moving away, or
        a baseline already at the threshold without meeting it, is 0."""
        if self.met(current):
            return 1.0
        if self.op == "=":
            start, now = abs(baseline - self.threshold), abs(current - self.threshold)
            return 0.0 if start == 0 else max(0.0, min(1.0, (start - now) / start))
        span = self.threshold - baseline
        if span == 0:
            return 0.0
        return max(0.0, min(1.0, (current - baseline) / span))


def parse_target(text: str) -> TargetSpec:
    """`"< 10%"` -> `TargetSpec("<", 10.0, percent=True)`. Raises `TargetError`."""
    found = _TARGET.match(text)
    if found is None:
        hint = " (use a decimal point)" if re.search(r"\d,\d", text) else ""
        raise TargetError(f"expected {EXPECTED_TARGET}{hint} (got {text!r})")
    op, number, percent = found.groups()
    return TargetSpec(_CANONICAL[op], float(number), bool(percent))


def parse_value(text: str, spec: TargetSpec) -> float:
    """A measured value in the target's form: `12` or `12%` for a percentage target, a plain
    number otherwise. Raises `TargetError` naming the form expected."""
    found = _VALUE.match(text)
    form = "a number, optionally with %" if spec.percent else "a number without %"
    if found is None:
        raise TargetError(f"expected {form} like the target {spec} (got {text!r})")
    number, percent = found.groups()
    if percent and not spec.percent:
        raise TargetError(f"the target {spec} is not a percentage: expected {form} (got {text!r})")
    return float(number)
