"""Webhook latency on a big store: `python bench/realtime.py [--tickets 1000000] [--db ...]`.

A store of `--tickets` synthetic tickets (bench/synthetic.py, bulk-loaded by
bench/trace_check.py's loader) under source `jira`, which the config does not name: they are
judged by every full check and sit in every table and index, but no tracker holds them, so
the bot leaves them alone. Beside them the sandbox (in this process) holds `--changes`
tickets in a Jira project RT, half traced and half broken; a real `bmmsync run` process
(service + web server with `/hooks/*`, webhooks signed, `flagging.write_interval: 0`, the
sandbox unpaced) syncs them, checks the whole store and flags the broken half.

Then `--changes` label changes through the sandbox at `--rate` per second, half fixing a
broken ticket (a capability label added) and half breaking a traced one (its label removed).
Per change: the time from the change to the flag label being removed/added on the tracker
(polled in the sandbox's state every few ms), and the tracker requests made for that ticket
(the sandbox's request log). Then the `run` process's CPU while idle (/proc/PID/stat).

Variants: `--drop 10` (the sandbox drops 10 % of deliveries; every change must be right after
the next reconciliation poll, `--poll-every` seconds), `--duplicate` and `--reorder` (every
delivery sent twice, held back and sent in reverse in groups: no write may happen twice).
SQLite by default (the loaded store is kept in /tmp/bmmsync-bench-realtime and copied for
each run; `--bench-dir` elsewhere); `--db postgresql` loads into database `bmmsync_bench_rt`
(`--pg-database`) and drops it at the end. `--profile FILE` runs `bmmsync run` with the
worker's batches under cProfile (bench/profile_run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from synthetic import TODAY, build_model
from trace_check import load as load_backdrop

from bmmsync.config.model_file import dump_model
from bmmsync.domain import Model
from bmmsync.sandbox.records import JiraIssue
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.store.event_queue import depth
from bmmsync.store.models import RunRow

BENCH_DIR = Path("/tmp/bmmsync-bench-realtime")
BMMSYNC = str(Path(sys.executable).with_name("bmmsync"))
PROJECT = "RT"
FLAG = "trace-broken"
SECRET = "rt-bench-hook-secret"
HUMAN = "557058:alice"
ISSUE_PATH = re.compile(r"/issue/(RT-\d+)")


def model_for_today(seed: int) -> Model:
    """The synthetic map with its dates moved from synthetic.TODAY to today, so what is
    traced in the trace bench is traced for the `run` process (which judges as of today)."""
    shift = date.today() - TODAY

    def moved(day: date | None) -> date | None:
        return None if day is None else day + shift

    model = build_model(seed)
    motivators = tuple(
        replace(
            m,
            review_by=moved(m.review_by),
            targets=tuple(replace(t, by=moved(t.by)) for t in m.targets),
        )
        for m in model.motivators
    )
    assessments = tuple(replace(a, date=a.date + shift) for a in model.assessments)
    return replace(model, motivators=motivators, assessments=assessments)


def store_url(args: argparse.Namespace) -> str:
    """A loaded store for this run: a copy of the kept SQLite file, or a fresh PG database."""
    args.bench_dir.mkdir(exist_ok=True)
    if args.db == "sqlite":
        base = args.bench_dir / f"backdrop-{args.tickets}.db"
        if not base.exists():
            started = time.perf_counter()
            figures = load_backdrop(f"sqlite:///{base}.part", args.tickets, args.seed)
            Path(f"{base}.part").rename(base)
            print(f"loaded {args.tickets:,} in {time.perf_counter() - started:.0f} s:", figures)
        work = args.workdir / "store.db"
        shutil.copyfile(base, work)
        return f"sqlite:///{work}"
    admin = create_engine(make_url(args.pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{args.pg_database}"'))
    admin.dispose()
    url = make_url(args.pg_url).set(database=args.pg_database).render_as_string(hide_password=False)
    started = time.perf_counter()
    figures = load_backdrop(url, args.tickets, args.seed)
    print(f"loaded {args.tickets:,} tickets in {time.perf_counter() - started:.0f} s:", figures)
    return url


def drop_pg(args: argparse.Namespace) -> None:
    admin = create_engine(make_url(args.pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)'))
    admin.dispose()


def seed_sandbox(sandbox: SandboxServer, changes: int, seed: int) -> list[tuple[str, str]]:
    """`changes` RT issues, alternately broken (no capability) and traced; returns the
    changes to make, (key, "fix" | "break"), in a shuffled order."""
    rng = random.Random(seed)
    state = sandbox.state
    state.add_project(PROJECT, "Realtime bench")
    plan = []
    for i in range(changes):
        kind = "fix" if i % 2 == 0 else "break"
        labels = [] if kind == "fix" else [f"cap:cap-{rng.randrange(900):04d}"]
        issue = state.jira_create_issue(PROJECT, f"Realtime item {i}", HUMAN, labels=labels)
        plan.append((issue.key, kind))
    rng.shuffle(plan)
    return plan


def write_config(directory: Path, sandbox: SandboxServer, url: str, port: int, poll: int) -> Path:
    model = directory / "model.yaml"
    model.write_text(dump_model(model_for_today(0)))
    path = directory / "bmmsync.yaml"
    path.write_text(
        f"""store: {{url: "{url}"}}
model_file: {model}
sources:
  - name: rt
    kind: jira
    url: "{sandbox.jira_url}"
    deployment: cloud
    email: bot@example.com
    token: jira-bot-token
    jql: project = {PROJECT}
    capability_field: Capability
flagging: {{write_interval: 0, max_writes_per_run: 100000}}
schedule: {{poll_every: {poll}s, jitter: 0s}}
web: {{listen: "127.0.0.1:{port}"}}
webhooks: {{jira_secret: "${{RT_HOOK_SECRET}}"}}
"""
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_1min() -> float:
    return os.getloadavg()[0]


def wait_for(what: str, check: Any, seconds: float, proc: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    while not check():
        if proc.poll() is not None:
            raise SystemExit(f"`bmmsync run` exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() - started > seconds:
            raise SystemExit(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def finished_runs(store: Store) -> list[tuple[str, float]]:
    with store.session() as s:
        rows = s.execute(
            select(RunRow.result, RunRow.started_at, RunRow.finished_at)
            .where(RunRow.finished_at.is_not(None))
            .order_by(RunRow.started_at)
        ).all()
    return [(r, (f - st).total_seconds()) for r, st, f in rows]


def has_flag(issue: JiraIssue) -> bool:
    return FLAG in issue.labels


def web_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--drop", type=float, default=0.0, help="percent of deliveries dropped")
    parser.add_argument("--duplicate", action="store_true", help="every delivery sent twice")
    parser.add_argument("--reorder", action="store_true", help="deliveries reversed in groups")
    parser.add_argument("--poll-every", type=int, help="seconds (60 with --drop, else 3600)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measured")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--pg-database", default="bmmsync_bench_rt", help="loaded and dropped")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help="stores and logs")
    parser.add_argument("--profile", type=Path, help="cProfile the worker's batches into FILE")
    args = parser.parse_args()
    poll = args.poll_every or (60 if args.drop else 3600)
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "db": args.db,
        "tickets": args.tickets,
        "changes": args.changes,
        "variant": ",".join(
            v
            for v, on in (
                (f"drop {args.drop:g}%", args.drop),
                ("duplicate", args.duplicate),
                ("reorder", args.reorder),
            )
            if on
        )
        or "plain",
        "load_at_start": load_1min(),
    }
    # one directory per run (its config, the `run` log, a SQLite store's working copy)
    args.workdir = args.bench_dir / f"run-{args.db}-{args.tickets}-{os.getpid()}"
    args.workdir.mkdir(parents=True)
    url = store_url(args)
    try:
        with SandboxServer(seed=None) as sandbox:
            run_bench(args, poll, url, args.workdir, sandbox, figures)
    finally:
        if args.db == "postgresql" and not args.keep:
            drop_pg(args)
        (args.workdir / "store.db").unlink(missing_ok=True)
    print(json.dumps(figures, indent=1, default=str))


def run_bench(
    args: argparse.Namespace,
    poll: int,
    url: str,
    workdir: Path,
    sandbox: SandboxServer,
    figures: dict[str, Any],
) -> None:
    state = sandbox.state
    plan = seed_sandbox(sandbox, args.changes, args.seed)
    port = free_port()
    config = write_config(workdir, sandbox, url, port, poll)
    store = Store.open(url)
    log = (workdir / "run.log").open("wb")
    command = [BMMSYNC, "--config", str(config), "run"]
    if args.profile is not None:
        profiler = Path(__file__).with_name("profile_run.py")
        command = [sys.executable, str(profiler), str(args.profile), *command[1:]]
    proc = subprocess.Popen(
        command,
        env={**os.environ, "RT_HOOK_SECRET": SECRET, "NO_COLOR": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        broken = [key for key, kind in plan if kind == "fix"]
        figures["first_run_s"] = wait_for(
            "the first run (sync, full check, flags)",
            lambda: bool(finished_runs(store)),
            7200,
            proc,
        )
        result, seconds = finished_runs(store)[0]
        figures["first_run"] = f"{result} in {seconds:.0f} s (load {load_1min():.1f})"
        if result != "ok" or not all(has_flag(state.jira_issue(k)) for k in broken):
            raise SystemExit(f"the first run did not flag the broken tickets: {result}")
        wait_for("the web server", lambda: web_up(port), 120, proc)
        hook = {"url": f"http://127.0.0.1:{port}/hooks/jira", "tracker": "jira", "secret": SECRET}
        answer = httpx.post(f"{sandbox.url}/_sandbox/webhooks", json=hook)
        answer.raise_for_status()
        hooks = sandbox.sandbox.webhooks
        faults: dict[str, Any] = {"seed": args.seed}
        if args.drop:
            faults["drop_percent"] = args.drop
        if args.duplicate:
            faults["duplicate"] = 10 * args.changes
        hooks.set_faults(faults)
        sandbox.sandbox.log.clear()
        cpu0, load0 = cpu_seconds(proc.pid), load_1min()
        changed = change_all(args, state, hooks, plan)
        cpu1 = cpu_seconds(proc.pid)
        figures["changes_s"] = changed["seconds"]
        figures["run_cpu_during_changes_s"] = round(cpu1 - cpu0, 2)
        figures["load_during_changes"] = f"{load0:.1f} -> {load_1min():.1f}"
        late, latencies = changed["pending"], changed["latencies"]
        # The rest: until no flag moved for 2 minutes (with drops: after the next poll).
        patience = 120 + (poll + 2 * seconds if args.drop else 0)
        last_progress = time.monotonic()
        while late and time.monotonic() - last_progress < patience:
            before = len(late)
            watch(state, late, latencies)
            if len(late) < before:
                last_progress = time.monotonic()
            time.sleep(0.005)
        figures["not_right_at_the_end"] = sorted(late)
        wait_for("the queue to drain", lambda: queue_depth(store) == 0, 300, proc)
        wait_for("deliveries to settle", lambda: hooks.snapshot()["pending"] == 0, 120, proc)
        time.sleep(2)
        idle0, load_idle0 = cpu_seconds(proc.pid), load_1min()
        figures["run_cpu_per_change_ms"] = round((idle0 - cpu0) / len(plan) * 1000, 1)
        time.sleep(args.idle)
        figures["idle_cpu_s"] = f"{cpu_seconds(proc.pid) - idle0:.2f} in {args.idle:.0f} s"
        figures["load_during_idle"] = f"{load_idle0:.1f} -> {load_1min():.1f}"
        summarise(figures, plan, latencies, changed["on_time"], sandbox)
        figures["runs"] = [f"{r} {s:.0f}s" for r, s in finished_runs(store)]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
        store.close()
        log.close()


def queue_depth(store: Store) -> int:
    with store.session() as s:
        return depth(s)


def change_all(
    args: argparse.Namespace, state: Any, hooks: Any, plan: list[tuple[str, str]]
) -> dict[str, Any]:
    """Make the changes at `args.rate` per second, watching the flags in between."""
    pending: dict[str, tuple[float, bool]] = {}
    latencies: dict[str, float] = {}
    start = time.perf_counter()
    for i, (key, kind) in enumerate(plan):
        due = start + i / args.rate
        while time.perf_counter() < due:
            watch(state, pending, latencies)
            time.sleep(0.003)
        if args.reorder and hooks.faults.reorder == 0:
            hooks.set_faults({"reorder": 4, "seed": args.seed + i})
        issue = state.jira_issue(key)
        if kind == "fix":
            labels = [*issue.labels, f"cap:cap-{i % 900:04d}"]
        else:
            labels = [x for x in issue.labels if not x.startswith("cap:")]
        pending[key] = (time.perf_counter(), kind == "break")
        state.jira_update(issue, HUMAN, labels=labels)
    seconds = time.perf_counter() - start
    end = time.perf_counter() + 10  # the last changes' flags, before the summary
    while pending and time.perf_counter() < end:
        watch(state, pending, latencies)
        time.sleep(0.003)
    on_time = len(latencies)
    return {"seconds": seconds, "pending": pending, "latencies": latencies, "on_time": on_time}


def watch(state: Any, pending: dict[str, tuple[float, bool]], latencies: dict[str, float]) -> None:
    now = time.perf_counter()
    with state.lock:
        done = [k for k, (_, want) in pending.items() if has_flag(state.jira_issue(k)) == want]
    for key in done:
        latencies[key] = now - pending.pop(key)[0]


def summarise(
    figures: dict[str, Any],
    plan: list[tuple[str, str]],
    latencies: dict[str, float],
    on_time: int,
    sandbox: SandboxServer,
) -> None:
    values = list(latencies.values())
    if values:
        figures["latency_s"] = {
            "p50": round(statistics.median(values), 3),
            "p95": round(percentile(values, 95), 3),
            "p99": round(percentile(values, 99), 3),
            "max": round(max(values), 3),
            "right": len(values),
            "right_within_10s_of_the_last_change": on_time,
        }
    requests = sandbox.sandbox.log.snapshot(True)["requests"]
    per_key: Counter[str] = Counter()
    writes: Counter[tuple[str, str]] = Counter()
    other: Counter[str] = Counter()
    for r in requests:
        match = ISSUE_PATH.search(r["path"])
        if match is None:
            other[f"{r['method']} {r['route'] or r['path']}"] += 1
            continue
        per_key[match.group(1)] += 1
        if r["method"] != "GET" and r["status"] < 300:
            writes[(r["method"], r["path"])] += 1
    kinds = dict(plan)
    for kind in ("fix", "break"):
        counts = [per_key[k] for k, v in kinds.items() if v == kind]
        figures[f"requests_per_{kind}"] = {
            "mean": round(statistics.mean(counts), 2),
            "max": max(counts),
            "histogram": dict(sorted(Counter(counts).items())),
        }
    figures["other_requests"] = dict(other)
    figures["writes_done_twice"] = [f"{m} {p}" for (m, p), n in writes.items() if n > 1]
    state = sandbox.state
    flags_right = sum(has_flag(state.jira_issue(k)) == (kind == "break") for k, kind in plan)
    figures["final_flags_right"] = f"{flags_right}/{len(plan)}"
    comments = Counter(len(state.jira_issue(k).comment_ids) for k, _ in plan)
    figures["comments_per_ticket"] = dict(sorted(comments.items()))
    sent = Counter(d["outcome"] for d in sandbox.sandbox.webhooks.snapshot()["deliveries"])
    figures["deliveries"] = dict(sent)


if __name__ == "__main__":
    main()
