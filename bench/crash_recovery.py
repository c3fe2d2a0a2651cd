"""Time from `kill -9` of a `bmmsync run --once` to the next run's first tracker request.

For each store (SQLite, and PostgreSQL with `--pg-url`), each round: a fresh store, the demo
sandbox (in a child process), a run held mid-way by a sandbox `hold` fault, `kill -9`, then
at once a new `bmmsync run --once`; the figure is the time from the kill to the sandbox
seeing the new process's first request. The same new process's time from its start to its
first request on a free lease (a clean start) is measured beside it: the difference is what
the crash costs. Before the short lease, the next run was skipped for 15 minutes.

    python bench/crash_recovery.py [--rounds 5] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bmmsync.sandbox.server import SandboxProcess
from bmmsync.store.database import create_store_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
BMMSYNC = str(Path(sys.executable).with_name("bmmsync"))


class Control:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url + "/_sandbox", timeout=30)

    def call(self, method: str, path: str, body: object = None) -> object:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def total(self) -> int:
        answer = self.http.get("/requests", params={"requests": "false"}).json()
        return int(answer["total"])

    def held(self) -> bool:
        return bool(self.call("GET", "/holds"))


def write_config(directory: Path, sandbox: SandboxProcess, url: str) -> Path:
    path = directory / "bmmsync.yaml"
    path.write_text(
        f"""store: {{url: "{url}"}}
model_file: {ROOT / "config" / "demo-model.yaml"}
sources:
  - {{name: web, kind: github, base_url: "{sandbox.github_url}", token: bot-token, orgs: [acme]}}
  - name: platform
    kind: jira
    url: "{sandbox.jira_url}"
    deployment: cloud
    email: bot@example.com
    token: jira-bot-token
    jql: project = PLAT
    capability_field: Capability
flagging: {{write_interval: 0, max_writes_per_run: 200}}
"""
    )
    return path


@contextmanager
def fresh_store(kind: str, pg_url: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'store-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"bmmsync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def first_request_after(control: Control, baseline: int, since: float) -> float:
    while control.total() <= baseline:
        time.sleep(0.002)
    return time.monotonic() - since


def one_round(control: Control, config: Path, hold_after: int) -> tuple[float, float, str]:
    """(clean start -> first request, kill -> the next run's first request, its result)."""
    control.call("POST", "/seed", {"seed": "demo"})
    control.call("POST", "/faults", {"route": "", "status": "hold", "after": hold_after})
    env = {**os.environ, "NO_COLOR": "1"}
    begun = time.monotonic()
    victim = subprocess.Popen(
        [BMMSYNC, "--config", str(config), "run", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    clean = first_request_after(control, 0, begun)
    while not control.held():
        if victim.poll() is not None:
            raise RuntimeError("the run ended before it was held")
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.wait()
    assert victim.returncode == -9
    baseline = control.total() + 1  # the held request lands once released
    control.call("DELETE", "/holds")
    while control.held():
        time.sleep(0.002)
    rerun = subprocess.Popen(
        [BMMSYNC, "--config", str(config), "run", "--once", "--format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    recovery = first_request_after(control, baseline, killed)
    out, _ = rerun.communicate(timeout=300)
    result = "ok" if '"result": "ok"' in out else out.strip()[:80]
    return clean, recovery, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hold-after", type=int, default=40, help="requests before the kill")
    parser.add_argument("--pg-url", default=os.environ.get("BMMSYNC_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.pg_url else [])
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')}"
    )
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory() as tmp:
        control = Control(sandbox.url)
        for kind in kinds:
            recoveries, cleans = [], []
            for n in range(args.rounds):
                directory = Path(tmp) / f"{kind}{n}"
                directory.mkdir()
                with fresh_store(kind, args.pg_url, directory) as url:
                    config = write_config(directory, sandbox, url)
                    clean, recovery, result = one_round(control, config, args.hold_after)
                if result != "ok":
                    raise SystemExit(
                        f"{kind}: the run after the kill did not do the work: {result}"
                    )
                recoveries.append(recovery)
                cleans.append(clean)
            print(
                f"{kind}: kill -9 -> next run's first request: median "
                f"{statistics.median(recoveries):.2f} s (min {min(recoveries):.2f}, max "
                f"{max(recoveries):.2f}); clean start -> first request: median "
                f"{statistics.median(cleans):.2f} s; {args.rounds} rounds, every rerun ok"
            )


if __name__ == "__main__":
    main()
