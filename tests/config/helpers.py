"""Small helpers: write a YAML file, and collect the problems a loader reports."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bmmsync.errors import ConfigError

MODEL = """\
motivators:
  - {id: retention, name: Increase customer retention, kind: external, review_by: 2027-01-31,
     targets: [{metric: churn, target: "< 10%", by: 2026-12-31}]}
assessments: [{motivator: retention, date: 2026-09-30, statement: "Churn 14%", value: 14}]
decisions: [{id: onboarding, name: Improve the onboarding experience, motivators: [retention]}]
capabilities: [{id: self-service-portal, name: Self-service portal, decisions: [onboarding],
                aliases: [portal]}]
actions: [{capability: self-service-portal, description: Build a mobile-responsive frontend}]
resources: [{name: Frontend developers, kind: people, actions: [x]}]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(load: Callable[..., Any], *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(*args, **kwargs)
    assert caught.value.exit_code == 2
    assert caught.value.problems, "a ConfigError must carry its problems"
    return caught.value.problems
