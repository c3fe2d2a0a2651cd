"""Time the dashboard's pages on a store of 1,000,000 tickets: `python bench/web.py [--db ...]`.

Loads the synthetic map and backlog (bench/synthetic.py) into a fresh store in bulk, with a
second source and closed work spread over the last 120 days so every page has something to
show; runs a full check (what `bmmsync check` does, which also stores the pages' aggregates);
then starts `bmmsync serve` on that store and asks each page `--requests` times over HTTP,
one client, keep-alive, after a warm-up. Prints p50/p95/max per page in milliseconds.
PostgreSQL: `--db postgresql` (a database `bmmsync_bench_web` is recreated next to `--url`).
Databases live outside the repository (default /tmp/bmmsync-bench).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from synthetic import TODAY, build, load_store

from bmmsync.domain import Ticket
from bmmsync.store.database import Store, create_store_engine, upgrade
from bmmsync.store.models import TicketRow

NOW = datetime.now(UTC).replace(microsecond=0)
PG_DATABASE = "bmmsync_bench_web"


def varied(tickets: list[Ticket], seed: int) -> list[Ticket]:
    """Half the projects on a GitHub source (a child stays with its parent's source, so the
    trace is unchanged), a fifth of the tickets closed within the last 120 days."""
    rng = random.Random(seed)
    source_of: dict[str, str] = {}
    out = []
    for ticket in tickets:
        by_project = "web" if int(ticket.project[1:]) < 10 else "jira"
        source = source_of.get(ticket.parent_key or "", by_project)
        source_of[ticket.key] = source
        changes: dict[str, Any] = {
            "source": source,
            "created": NOW - timedelta(days=rng.randrange(120, 400)),
        }
        if rng.random() < 0.2:
            closed_at = NOW - timedelta(days=rng.randrange(120), hours=rng.randrange(24))
            changes |= {"closed": True, "state": "closed", "updated": closed_at}
            changes["closed_at"] = closed_at
        out.append(replace(ticket, **changes))
    return out


def load(url: str, n_tickets: int, seed: int) -> float:
    """The map and `n_tickets` tickets, bulk-inserted; returns the seconds it took."""
    started = time.perf_counter()
    model, tickets = build(n_tickets, seed)
    load_store(url, model, varied(tickets, seed), NOW)
    return time.perf_counter() - started


def check(url: str) -> float:
    """A full check, as `bmmsync check` runs it; returns the seconds it took."""
    from bmmsync.checking import check_store
    from bmmsync.trace.rules import MappingRules

    engine = create_store_engine(url)
    upgrade(engine)  # a store loaded by an older bmmsync: what `bmmsync db upgrade` does
    engine.dispose()
    store = Store.open(url)
    started = time.perf_counter()
    with store.session() as session:
        check_store(session, MappingRules(), TODAY, NOW)
    store.close()
    return time.perf_counter() - started


def stored_keys(url: str, count: int) -> list[tuple[str, str]]:
    """`count` (source, key) pairs spread over the store."""
    store = Store.open(url)
    with store.session() as session:
        total = session.execute(select(func.count()).select_from(TicketRow)).scalar_one()
        step = max(1, total // count)
        found = [
            session.execute(
                select(TicketRow.source, TicketRow.key).order_by(TicketRow.key).offset(i * step)
            ).first()
            for i in range(count)
        ]
    store.close()
    return [(row[0], row[1]) for row in found if row is not None]


def pages(rng: random.Random, keys: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Each page with the parameter sets it is asked with (varied so no cache answers all)."""
    caps = [f"cap-{rng.randrange(1000):04d}" for _ in range(20)]
    return {
        "/": ["/", "/?source=jira", "/?source=web&project=acme/repo03"],
        "/capabilities/{id}": [f"/capabilities/{c}" for c in caps],
        "/review": [
            "/review",
            "/review?reason=unknown-capability",
            "/review?source=jira&project=P12",
            "/review?page=3",
        ],
        "/review (other sorts)": [
            "/review?sort=flagged_since&page=3",
            "/review?sort=title",
            "/review?sort=-project",
        ],
        "/review?q=": [f"/review?q=item+P{rng.randrange(20):02d}-{rng.randrange(99)}"],
        "/explain": [f"/explain?{urlencode({'key': k, 'source': src})}" for src, k in keys],
        "/explain (unknown key)": [f"/explain?key=P{rng.randrange(20):02d}-X{i}" for i in range(5)],
        "/report": ["/report"],
        "/map": ["/map"],
        "/status": ["/status"],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used: what a page costs on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(
    url: str, requests: int, page_seconds: float, seed: int, workdir: Path
) -> dict[str, dict[str, float]]:
    """p50/p95/max wall time per page, and the server's CPU per request, against
    `bmmsync serve` on the store at `url`."""
    config = workdir / "bench-web.yaml"
    # serve reads the map from the store; the config just needs a valid one to load
    model = Path(__file__).resolve().parents[1] / "config" / "model.example.yaml"
    config.write_text(f'store: {{url: "{url}"}}\nmodel_file: {model}\n')
    port = _free_port()
    bmmsync = str(Path(sys.executable).with_name("bmmsync"))
    command = [bmmsync, "--config", str(config), "serve", "--host", "127.0.0.1"]
    log = (workdir / "bench-web-serve.log").open("wb")
    server = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(300):
                try:
                    if client.get("/livez").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for page, paths in pages(random.Random(seed), stored_keys(url, 10)).items():
                client.get(paths[0])  # warm-up: the first query plans and fills caches
                timings = []
                cpu_before = cpu_ms(server.pid)
                page_started = time.perf_counter()
                for i in range(requests):
                    if i >= 3 and time.perf_counter() - page_started > page_seconds:
                        break  # a page far over target: enough samples to say by how much
                    path = paths[i % len(paths)]
                    started = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                    if response.status_code not in (200, 404):
                        raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                cpu = (cpu_ms(server.pid) - cpu_before) / len(timings)
                timings.sort()
                figures[page] = {
                    "requests": len(timings),
                    "cpu_ms": cpu,
                    "p50_ms": statistics.median(timings),
                    "p95_ms": timings[max(0, int(len(timings) * 0.95) - 1)],
                    "max_ms": timings[-1],
                }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still inside a slow request
            server.kill()
            server.wait()
        log.close()
    return figures


def _pg_url(admin_url: str, fresh: bool) -> str:
    if fresh:
        admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        admin.dispose()
    return make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--dir", default="/tmp/bmmsync-bench")
    parser.add_argument("--requests", type=int, default=100, help="requests per page")
    parser.add_argument(
        "--page-seconds", type=float, default=60, help="stop a page after this (3 requests min)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse", choices=("none", "loaded", "checked"), default="none",
        help="keep the store from an earlier run: as loaded (then check it) or already checked",
    )  # fmt: skip
    parser.add_argument("--load-only", action="store_true", help="build the store, then stop")
    args = parser.parse_args()

    workdir = Path(args.dir)
    workdir.mkdir(parents=True, exist_ok=True)
    fresh = args.reuse == "none"
    if args.db == "sqlite":
        path = workdir / "web.db"
        url = f"sqlite:///{path}"
        if fresh:
            for stale in workdir.glob("web.db*"):
                stale.unlink()
    else:
        url = _pg_url(args.url, fresh)
    if fresh:
        print(f"load   {load(url, args.tickets, args.seed):8.1f} s", flush=True)
    if args.load_only:
        return
    if args.reuse != "checked":
        print(f"check  {check(url):8.1f} s", flush=True)
    load_avg = Path("/proc/loadavg").read_text().split()[0]
    figures = measure(url, args.requests, args.page_seconds, args.seed, workdir)
    print(f"{args.db}, {args.tickets:,} tickets, {args.requests} requests/page, load {load_avg}")
    print(f"{'page':26s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'CPU ms':>8s}")
    for page, f in figures.items():
        print(
            f"{page:26s} {f['requests']:4.0f} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f}"
            f" {f['max_ms']:8.1f} {f['cpu_ms']:8.1f}"
        )
    print(f"1-min load average at the end {Path('/proc/loadavg').read_text().split()[0]}")


if __name__ == "__main__":
    main()
