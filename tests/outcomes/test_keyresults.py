"""Key results from measurements and assessments: current value, history, met by the date."""

from __future__ import annotations

from datetime import date

import pytest

from bmmsync.domain import Assessment, Measurement, Model, Motivator, Status, Target
from bmmsync.outcomes.keyresults import key_results

TODAY = date(2026, 12, 7)


def model() -> Model:
    return Model(
        motivators=(
            Motivator(
                "retention",
                "Retention",
                targets=(Target("churn", "< 10%", date(2027, 3, 31)),),
            ),
            Motivator(
                "privacy",
                "Privacy",
                targets=(
                    Target("exports served", ">= 99%", date(2026, 10, 31)),
                    Target("incidents", "= 0", date(2026, 11, 30)),
                ),
            ),
            Motivator("gone", "Gone", targets=(Target("x", "< 1"),), status=Status.RETIRED),
        ),
        assessments=(
            Assessment("retention", date(2026, 6, 30), "Churn 15%", 15.0),
            Assessment("privacy", date(2026, 9, 1), "two targets: ambiguous", 50.0),
        ),
    )


def test_current_value_history_progress_and_met_by_date() -> None:
    measured = [
        Measurement("retention", "churn", date(2026, 11, 30), 12.0),
        Measurement("privacy", "exports served", date(2026, 10, 1), 99.5),
        Measurement("privacy", "exports served", date(2026, 11, 15), 90.0),  # after the date
        Measurement("privacy", "incidents", date(2026, 12, 1), 0.0),  # too late
        Measurement("retention", "churn", date(2027, 1, 1), 9.0),  # after today: not known yet
    ]
    krs = {(k.motivator, k.metric): k for k in key_results(model(), measured, TODAY)}

    assert set(krs) == {
        ("retention", "churn"),
        ("privacy", "exports served"),
        ("privacy", "incidents"),
    }
    churn = krs["retention", "churn"]
    assert churn.history == ((date(2026, 6, 30), 15.0), (date(2026, 11, 30), 12.0))
    assert churn.current == 12.0 and not churn.due and churn.met is False
    assert churn.progress == pytest.approx(0.6)
    assert churn.summary() == "churn 12 % -> target < 10 % by 2027-03-31, 60 % of the way"
    exports = krs["privacy", "exports served"]
    assert exports.due and exports.met is True  # judged on the value known at its date
    assert exports.current == 90.0
    incidents = krs["privacy", "incidents"]
    assert incidents.due and incidents.met is False
    assert incidents.summary().endswith(", missed")


def test_a_recorded_value_wins_over_an_assessment_of_the_same_day() -> None:
    measured = [Measurement("retention", "churn", date(2026, 6, 30), 14.0)]
    churn = key_results(model(), measured, TODAY)[0]
    assert churn.history == ((date(2026, 6, 30), 14.0),)
