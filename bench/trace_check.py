"""Time `bmmsync check` on a store: `python bench/trace_check.py --tickets 1000000 [--db ...]`.

Loads the synthetic map and backlog (bench/synthetic.py) into a fresh store in bulk, then, in a
child process so its peak RSS is the check's own: a full check (judge_store + record_verdicts,
what `bmmsync check` does) and an incremental re-check after 1,000 tickets changed.
PostgreSQL: `--db postgresql --url postgresql+psycopg://postgres@127.0.0.1:5432/postgres`
(a database `--database`, default `bmmsync_bench`, is recreated next to it and kept for
inspection; `--reuse` keeps it, loaded, if it exists).
CPU time (process user+sys, client side only) is printed beside each wall time: on a shared
machine the wall time mostly measures the load.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from synthetic import TODAY, build, load_store

from bmmsync.checking import judge_store, recheck, record_verdicts, titles_of
from bmmsync.domain import Ticket
from bmmsync.store.database import Store
from bmmsync.store.ticket_repo import tickets_by_id, upsert_tickets
from bmmsync.trace.rules import MappingRules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(url: str, n_tickets: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    model, tickets = build(n_tickets, seed)
    built = time.perf_counter()
    load_store(url, model, tickets, NOW)
    return {
        "generate_s": built - started,
        "load_s": time.perf_counter() - built,
        "load_peak_mb": peak_mb(),
    }


def changed_tickets(tickets: list[Ticket], count: int, seed: int) -> list[Ticket]:
    """`count` edits a sync could bring: relabel, drop the labels, re-parent, close."""
    rng = random.Random(seed)
    edits = []
    for ticket in rng.sample(tickets, count):
        roll = rng.random()
        if roll < 0.4:
            edited = replace(ticket, labels=(f"cap:cap-{rng.randrange(1000):04d}",))
        elif roll < 0.6:
            edited = replace(ticket, labels=())
        elif roll < 0.8:
            edited = replace(ticket, parent_key=rng.choice(tickets).key)
        else:
            edited = replace(ticket, closed=True, state="closed")
        edits.append(edited)
    return edits


def check(url: str, n_changed: int, seed: int) -> dict[str, Any]:
    """The measured phase (run in a child process)."""
    rules = MappingRules()
    store = Store.open(url)
    cpu0, started = cpu_s(), time.perf_counter()
    with store.session() as session:
        judgement = judge_store(session, rules, TODAY)
        judged, judged_cpu = time.perf_counter(), cpu_s()
        titles = titles_of(judgement.tickets, judgement.verdicts)
        written = record_verdicts(session, judgement.verdicts, NOW, replace_all=True, titles=titles)
        recorded, recorded_cpu = time.perf_counter(), cpu_s()
    committed = time.perf_counter()
    full = {
        "tickets": len(judgement.verdicts),
        "judge_store_s": judged - started,
        "judge_store_cpu_s": judged_cpu - cpu0,
        "record_s": recorded - judged,
        "record_cpu_s": recorded_cpu - judged_cpu,
        "rows_written": written,
        "commit_s": committed - recorded,
        "check_s": committed - started,
        "check_cpu_s": cpu_s() - cpu0,
        "check_peak_mb": peak_mb(),
    }
    sample = random.Random(seed).sample(judgement.tickets, n_changed)
    del judgement
    gc.collect()
    with store.session() as session:
        idents = [(t.source, t.key) for t in sample]
        edits = changed_tickets(tickets_by_id(session, idents), n_changed, seed)
        upsert_tickets(session, edits, NOW)
    cpu0, started = cpu_s(), time.perf_counter()
    with store.session() as session:
        result = recheck(session, rules, TODAY, idents, now=NOW)
    full["recheck_changed"] = n_changed
    full["recheck_judged"] = len(result.verdicts)
    full["recheck_s"] = time.perf_counter() - started
    full["recheck_cpu_s"] = cpu_s() - cpu0
    store.close()
    return full


def _pg_url(admin_url: str, database: str, *, reuse: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it was kept (`reuse` and it exists)."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database})
        kept = reuse and found is not None
        if not kept:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    return url, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--path", default="/tmp/bmmsync-bench/trace_check.db")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="bmmsync_bench", help="PostgreSQL bench database")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded store if it exists")
    parser.add_argument("--phase", choices=("all", "check"), default="all", help=argparse.SUPPRESS)
    parser.add_argument("--store-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "check":
        print(json.dumps(check(args.store_url, args.changed, args.seed)))
        return

    figures: dict[str, Any] = {"db": args.db}
    if args.db == "sqlite":
        path = Path(args.path)
        url = f"sqlite:///{path}"
        if not (args.reuse and path.exists()):
            for stale in path.parent.glob(path.name + "*"):
                stale.unlink()
            figures.update(load(url, args.tickets, args.seed))
    else:
        url, kept = _pg_url(args.url, args.database, reuse=args.reuse)
        if not kept:
            figures.update(load(url, args.tickets, args.seed))
    command = [sys.executable, __file__, "--phase", "check", "--store-url", url]
    command += ["--changed", str(args.changed), "--seed", str(args.seed)]
    child = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
    )
    figures.update(json.loads(child.stdout.strip().splitlines()[-1]))
    figures["tickets_per_s"] = figures["tickets"] / figures["check_s"]
    figures["tickets_per_cpu_s"] = figures["tickets"] / figures["check_cpu_s"]
    figures["load_average"] = " ".join(f"{n:.1f}" for n in os.getloadavg())
    for name, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        print(f"{name:16s} {shown}")


if __name__ == "__main__":
    main()
