"""A scheduled run's check and plan, full vs incremental, on a large store:
`python bench/incremental_run.py --tickets 100000 [--db postgresql]`.

Loads the synthetic map and backlog with bench/trace_check.py's loader, then measures what a
service run does between its sync and its tracker writes:
- full: `check_store` (judge and record every ticket) + `prepare` (plan over all of them);
- incremental: after 1,000 tickets changed (upserted as a sync stores them, which yields
  their keys), `check_scope.incremental_judgement` (re-judge those, their descendants and
  every unsettled flag) + `prepare` over that judgement.
Before the incremental run every broken ticket gets a settled flag row (label and comment
written, as after a full run), 50 of them deferred, so the unsettled-flag query reads a
realistic flags table. Writes are planned, not made (no tracker). Wall and CPU time (this
process, user+sys) are printed for each phase.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from synthetic import TODAY
from trace_check import changed_tickets, load

from bmmsync.bot.flagging import prepare
from bmmsync.bot.planner import FlagState
from bmmsync.checking import check_store
from bmmsync.config.settings import load_config
from bmmsync.service.check_scope import incremental_judgement
from bmmsync.store.database import Store
from bmmsync.store.flag_repo import save_flags
from bmmsync.store.map_repo import load_model
from bmmsync.store.ticket_repo import iter_tickets, tickets_by_id, upsert_tickets

NOW = datetime.combine(TODAY, clock(12, 0), tzinfo=UTC)
PG_DATABASE = "bmmsync_bench_incremental"


def pg_database(admin_url: str, *, create: bool) -> str:
    """(Re)create, or drop, this bench's own database next to `admin_url`'s."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timer:
    def __init__(self, figures: dict[str, Any], name: str) -> None:
        self.figures, self.name = figures, name

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), cpu_s()

    def __exit__(self, *_: object) -> None:
        self.figures[f"{self.name}_s"] = time.perf_counter() - self.wall
        self.figures[f"{self.name}_cpu_s"] = cpu_s() - self.cpu


def write_config(directory: Path, url: str) -> Path:
    """A config with the synthetic backlog's one source (never called: writes are planned)."""
    path = directory / "bmmsync.yaml"
    path.write_text(
        f"""store: {{url: "{url}"}}
model: {{motivators: [], decisions: [], capabilities: []}}
sources:
  - {{name: jira, kind: jira, url: "http://127.0.0.1:9", deployment: cloud,
     email: bench@example.com, token: bench, jql: project = BENCH}}
flagging: {{max_writes_per_run: 50}}
"""
    )
    return path


def settle_flags(store: Store, broken: list[tuple[str, str]], deferred: int) -> None:
    """Flag rows as a full run leaves them: label and comment written; a few deferred."""
    states = [
        (ident, FlagState(reason="x", first_seen=NOW, flagged_at=NOW, label_added=True,
                          comment_id=f"c{i}", comment_digest="d", deferred=i < deferred))
        for i, ident in enumerate(broken)
    ]  # fmt: skip
    with store.session() as session:
        save_flags(session, states, NOW)


def run(url: str, directory: Path, n_changed: int, seed: int) -> dict[str, Any]:
    config = load_config(write_config(directory, url))
    rules = config.mapping.to_rules()
    store = Store.open(url)
    figures: dict[str, Any] = {}
    with Timer(figures, "full_check"), store.session() as session:
        judgement = check_store(session, rules, TODAY, NOW)
    with Timer(figures, "full_plan"):
        prepared = prepare(config, store, now=NOW, judgement=judgement)
    figures["full_judged"] = len(judgement.verdicts)
    figures["full_planned"] = prepared.plan.stats.planned
    broken = [(s.source, s.key) for s in prepared.plan.seen if s.broken]
    del judgement, prepared
    settle_flags(store, broken, deferred=50)
    figures["flag_rows"] = len(broken)

    with store.session() as session:
        keys = [(t.source, t.key) for t in iter_tickets(session)]
        sample = random.Random(seed).sample(keys, n_changed)
        edits = changed_tickets(tickets_by_id(session, sample), n_changed, seed)
        touched = set(upsert_tickets(session, edits, NOW).touched)
        before = load_model(session)
    with Timer(figures, "incremental_check"), store.session() as session:
        partial = incremental_judgement(session, config, NOW, TODAY, before, touched)
    with Timer(figures, "incremental_plan"):
        planned = prepare(config, store, now=NOW, judgement=partial)
    figures["incremental_changed"] = len(touched)
    figures["incremental_judged"] = len(partial.verdicts)
    figures["incremental_planned"] = planned.plan.stats.planned
    store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--dir", default="/tmp/bmmsync-bench-incremental")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    if args.db == "sqlite":
        path = directory / "store.db"
        for stale in directory.glob("store.db*"):
            stale.unlink()
        url = f"sqlite:///{path}"
    else:
        url = pg_database(args.url, create=True)
    figures: dict[str, Any] = {"db": args.db, "tickets": args.tickets}
    try:
        figures.update(load(url, args.tickets, args.seed))
        figures.update(run(url, directory, args.changed, args.seed))
    finally:
        if args.db == "postgresql":
            pg_database(args.url, create=False)
    figures["load_average"] = " ".join(f"{n:.1f}" for n in os.getloadavg())
    for name, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        print(f"{name:22s} {shown}")


if __name__ == "__main__":
    main()
