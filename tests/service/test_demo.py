"""`bmmsync demo`: the README's first command, end to end, with no token and no network."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from bmmsync.store.database import Store
from bmmsync.store.models import FlagRow, TicketRow
from tests.cli.helpers import run_cli
from tests.demo_outcomes import FLAGGED, STORED


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """How fast the demo runs is a target for `bench/demo.py`, not a timed test."""
    result = run_cli("demo", "--dir", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"run \w+ ok in [\d.]+s; synced web=ok, platform=ok", out)
    assert "Sprint review: items whose trace is broken" in out
    for reason in ("no-capability", "unknown-capability", "parent-cycle", "retired-capability"):
        assert reason in out
    assert "requirement" in out and "traceability" in out
    assert "The comment bmmsync posted on" in out and "Broken trace" in out
    assert "--keep-running" in out and "alice-token" in out
    assert re.fullmatch(r"Dashboard: http://127\.0\.0\.1:\d+/", out.strip().splitlines()[-1])

    store = Store.open(f"sqlite:///{tmp_path / 'bmmsync-demo.db'}")
    with store.session() as s:
        stored = set(s.scalars(select(TicketRow.key)))
        commented = {
            row.key: row.reason
            for row in s.scalars(select(FlagRow).where(FlagRow.comment_id.is_not(None)))
        }
    store.close()
    assert stored == set(STORED)
    assert commented == FLAGGED
    again = run_cli("--config", str(tmp_path / "bmmsync.yaml"), "config", "check")
    assert again.returncode == 0, again.stderr
