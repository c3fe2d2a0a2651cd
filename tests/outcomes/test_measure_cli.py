"""`bmmsync model measure`, as a user runs it, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bmmsync.domain import Measurement
from bmmsync.store.database import Store
from bmmsync.store.measurement_repo import all_measurements
from tests.cli.helpers import run_cli, write_config

MODEL = """motivators:
  - id: retention
    name: Increase customer retention
    targets:
      - {metric: churn, target: "< 10%", by: 2027-03-31}
      - {metric: nps, target: ">= 4.5", by: 2027-03-31}
"""


def _setup(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url, model=MODEL)
    assert run_cli("--config", str(path), "model", "sync").returncode == 0
    return path


def _stored(db_url: str) -> list[Measurement]:
    store = Store.open(db_url)
    try:
        with store.session() as session:
            return all_measurements(session)
    finally:
        store.close()


def test_measure_records_values_and_shows_progress(tmp_path: Path, db_url: str) -> None:
    path = _setup(tmp_path, db_url)
    cfg = ("--config", str(path), "model", "measure")
    first = run_cli(*cfg, "retention", "churn", "15%", "--at", "2026-06-30")
    second = run_cli(*cfg, "retention", "churn", "12", "--at", "2026-11-30", "--format", "json")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    shown = json.loads(second.stdout)
    assert shown["recorded"] == 1
    assert shown["key_results"][0]["summary"] == (
        "churn 12 % -> target < 10 % by 2027-03-31, 60 % of the way"
    )
    assert _stored(db_url) == [
        Measurement("retention", "churn", date(2026, 6, 30), 15.0),
        Measurement("retention", "churn", date(2026, 11, 30), 12.0),
    ]


def test_bad_values_exit_2_and_record_nothing(tmp_path: Path, db_url: str) -> None:
    path = _setup(tmp_path, db_url)
    cfg = ("--config", str(path), "model", "measure")
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    cases = [
        (("retension", "churn", "9"), "unknown motivator 'retension'; did you mean 'retention'?"),
        (("retention", "chrn", "9"), "has no target 'chrn'; did you mean 'churn'?"),
        (("retention", "nps", "4%"), "is not a percentage"),
        (("retention", "churn", "low"), "expected a number, optionally with %"),
        (("retention", "churn", "9", "--at", tomorrow), "is in the future"),
        (("retention", "churn", "9", "--at", "31/12/2026"), "expected a date YYYY-MM-DD"),
    ]
    for args, message in cases:
        result = run_cli(*cfg, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert _stored(db_url) == []


def test_file_import_all_or_nothing_with_line_numbers(tmp_path: Path, db_url: str) -> None:
    path = _setup(tmp_path, db_url)
    cfg = ("--config", str(path), "model", "measure", "--file")
    wrong_header = tmp_path / "header.csv"
    wrong_header.write_text("motivator,kpi,value\nretention,churn,9\n")
    bad_rows = tmp_path / "rows.csv"
    bad_rows.write_text(
        "motivator,metric,value,at\n"
        "retention,churn,13%,2026-10-31\n"
        "retention,nps,lots,2026-10-31\n"
        "\n"
        "retention,churm,9,2026-11-01\n"
    )
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            [
                {"motivator": "retention", "metric": "churn", "value": "13%", "at": "2026-10-31"},
                {"motivator": "retention", "metric": "nps", "value": 4.1, "at": "2026-10-31"},
            ]
        )
    )

    header = run_cli(*cfg, str(wrong_header))
    rows = run_cli(*cfg, str(bad_rows))

    assert header.returncode == 2
    assert f"{wrong_header}:1: expected a header motivator,metric,value" in header.stderr
    assert rows.returncode == 2
    assert f"{bad_rows}:3: value: expected a number without %" in rows.stderr
    assert f"{bad_rows}:5: motivator 'retention' has no target 'churm'" in rows.stderr
    assert _stored(db_url) == []  # line 2 was fine, but nothing is recorded on any problem

    imported = run_cli(*cfg, str(good))
    assert imported.returncode == 0, imported.stderr
    assert _stored(db_url) == [
        Measurement("retention", "churn", date(2026, 10, 31), 13.0),
        Measurement("retention", "nps", date(2026, 10, 31), 4.1),
    ]
