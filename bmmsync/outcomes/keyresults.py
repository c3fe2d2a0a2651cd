"""Key results: each motivator target with its current value, history and progress, and the
goal achievement rate = due key results met by their date / due key results.

Measurements come from `bmmsync model measure`; an assessment with a value counts as a
measurement too when its motivator has exactly one target (it can only be about that one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bmmsync.domain import Measurement, Model, Motivator, Status, Target
from bmmsync.outcomes.targets import TargetError, TargetSpec, parse_target


@dataclass(frozen=True, slots=True)
class KeyResult:
    """One target of one motivator, as measured up to `today`.

    `met` is judged at the deadline once it has passed (the latest value on or before `by`),
    else on the current value; None when there is no value or the target does not read.
    """

    motivator: str
    metric: str
    target: str
    by: date | None
    spec: TargetSpec | None
    history: tuple[tuple[date, float], ...]
    due: bool
    met: bool | None

    @property
    def current(self) -> float | None:
        return self.history[-1][1] if self.history else None

    @property
    def progress(self) -> float | None:
        """From the first value to the target (0..1); None without a target or without two
        values (one value is a starting point, not progress)."""
        if self.spec is None or len(self.history) < 2:
            return None
        return self.spec.progress(self.history[0][1], self.history[-1][1])

    def summary(self) -> str:
        """`churn 12 % -> target < 10 % by 2027-03-31, 40 % of the way`."""
        label = self.metric
        if self.spec is None:
            return f"{label}: target {self.target!r} does not read"
        by = f" by {self.by.isoformat()}" if self.by else ""
        if self.current is None:
            return f"{label}: no value yet -> target {self.spec}{by}"
        line = f"{label} {self.spec.show(self.current)} -> target {self.spec}{by}"
        if self.met:
            return line + (", met" if not self.due else ", met by its date")
        if self.due:
            return line + ", missed"
        progress = self.progress
        return line + ("" if progress is None else f", {progress * 100:.0f} % of the way")


def measurements_of(model: Model, measured: Iterable[Measurement]) -> list[Measurement]:
    """Recorded measurements plus the assessments that can only be about one target."""
    single = {m.id: m.targets[0].metric for m in model.motivators if len(m.targets) == 1}
    out = [
        Measurement(a.motivator, single[a.motivator], a.date, a.value)
        for a in model.assessments
        if a.motivator in single and a.value is not None
    ]
    return out + list(measured)  # a recorded value wins over an assessment of the same day


def _spec(target: Target) -> TargetSpec | None:
    try:
        return parse_target(target.target)
    except TargetError:
        return None


def key_result(
    motivator: Motivator, target: Target, history: list[tuple[date, float]], today: date
) -> KeyResult:
    spec = _spec(target)
    history = sorted(history)
    due = target.by is not None and target.by <= today
    judged = [value for at, value in history if target.by is None or not due or at <= target.by]
    met = None if spec is None or not judged else spec.met(judged[-1])
    if due and spec is not None and not judged:
        met = False
    return KeyResult(
        motivator.id, target.metric, target.target, target.by, spec, tuple(history), due, met
    )


def key_results(model: Model, measured: Iterable[Measurement], today: date) -> list[KeyResult]:
    """Every target of every active motivator, in map order. Measurements after `today` are
    left out (a report as of an earlier day sees what was known then); a later measurement on
    the same day replaces an earlier one."""
    by_key: dict[tuple[str, str], dict[date, float]] = {}
    for m in measurements_of(model, measured):
        if m.at <= today:
            by_key.setdefault((m.motivator, m.metric), {})[m.at] = m.value
    out = []
    for motivator in model.motivators:
        if motivator.status is not Status.ACTIVE:
            continue
        for target in motivator.targets:
            values = by_key.get((motivator.id, target.metric), {})
            out.append(key_result(motivator, target, list(values.items()), today))
    return out
