"""Sync benchmark: the sandbox with N GitHub issues (acme/web + acme/mobile) and N Jira
issues (PLAT, Cloud), synced into a fresh SQLite store.

Measures, in one run against one sandbox (a separate process, so its memory is not ours):
- a bare httpx loop downloading the same listing pages (the floor for wall time);
- the first `sync_sources` (in a child process: its peak RSS is the sync's own), with the
  number of requests against the minimum (ceil(N/100) GitHub pages, ceil(N/page) Jira pages);
- a second sync with no change (requests per listing, 304s).

Usage: python bench/sync.py [--tickets 200000] [--port 8655]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FIELDS = (
    "summary,status,issuetype,labels,parent,project,assignee,created,updated,"
    "customfield_10010,customfield_10016"
)


def config(url: str) -> Any:
    from bmmsync.config.settings import Config

    return Config.model_validate(
        {
            "sources": [
                {
                    "name": "web",
                    "kind": "github",
                    "base_url": f"{url}/github",
                    "token": "bot-token",
                    "orgs": ["acme"],
                },
                {
                    "name": "platform",
                    "kind": "jira",
                    "url": f"{url}/jira",
                    "deployment": "cloud",
                    "email": "bot@example.com",
                    "token": "jira-bot-token",
                    "jql": "project = PLAT",
                    "capability_field": "Capability",
                },
            ],
            "sync": {"page_size": 100},
            "flagging": {"write_interval": 0},
        }
    )


def child_sync(url: str, db: str) -> None:
    """Run one sync and print its report with this process's peak RSS."""
    from bmmsync.store.database import Store
    from bmmsync.sync import sync_sources

    store = Store.open(f"sqlite:///{db}")
    started = time.perf_counter()
    report = sync_sources(config(url), store)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"report": report.as_dict(), "seconds": seconds, "peak_mb": peak_kb / 1024}))


def bare_httpx(url: str) -> tuple[float, int]:
    """The same pages with a plain httpx loop: no parsing into tickets, no store."""
    started = time.perf_counter()
    pages = 0
    with httpx.Client(timeout=60) as client:
        next_url: str | None = f"{url}/github/orgs/acme/issues"
        params: dict[str, Any] | None = {
            "filter": "all",
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "per_page": 100,
        }
        headers = {"Authorization": "token bot-token"}
        while next_url:
            response = client.get(next_url, params=params, headers=headers)
            response.raise_for_status()
            response.json()
            pages += 1
            params = None
            link = response.links.get("next")
            next_url = link["url"] if link else None
        token = None
        auth = ("bot@example.com", "jira-bot-token")
        while True:
            query = {
                "jql": "(project = PLAT) ORDER BY updated ASC, key ASC",
                "fields": FIELDS,
                "maxResults": 100,
            }
            if token:
                query["nextPageToken"] = token
            response = client.get(f"{url}/jira/rest/api/3/search/jql", params=query, auth=auth)
            response.raise_for_status()
            data = response.json()
            pages += 1
            token = None if data.get("isLast", True) else data.get("nextPageToken")
            if not token:
                break
    return time.perf_counter() - started, pages


def run_child(url: str, db: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, db],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=200_000, help="total, half per tracker")
    parser.add_argument("--port", type=int, default=8655)
    parser.add_argument("--child", nargs=2, metavar=("URL", "DB"))
    args = parser.parse_args()
    if args.child:
        child_sync(*args.child)
        return
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from bmmsync.sandbox.server import SandboxServer\n"
            f"with SandboxServer(port={args.port}, seed={args.tickets}):\n"
            "    while True: time.sleep(60)",
        ],
        cwd=ROOT,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/_sandbox/clock", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        control = httpx.Client(base_url=f"{url}/_sandbox", timeout=60)
        control.post("/config", json={"github_rate_limit": 10_000_000})
        bare_seconds, bare_pages = bare_httpx(url)
        control.delete("/requests")
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.db")
            first = run_child(url, db)
            log1 = control.get("/requests", params={"requests": "false"}).json()
            control.delete("/requests")
            second = run_child(url, db)
            log2 = control.get("/requests", params={"requests": "false"}).json()
        print_results(args.tickets, bare_seconds, bare_pages, first, log1, second, log2)
    finally:
        server.terminate()
        server.wait()


def print_results(
    tickets: int,
    bare_seconds: float,
    bare_pages: int,
    first: dict[str, Any],
    log1: dict[str, Any],
    second: dict[str, Any],
    log2: dict[str, Any],
) -> None:
    sources = {s["name"]: s for s in first["report"]["sources"]}
    fetched = {name: s["fetched"] for name, s in sources.items()}
    minimum = math.ceil(fetched["web"] / 100) + math.ceil(fetched["platform"] / 100)
    requests = log1["total"]
    again = {s["name"]: s for s in second["report"]["sources"]}
    lines = [
        f"tickets: {tickets} ({fetched['web']} GitHub in 2 repos, {fetched['platform']} Jira)",
        f"bare httpx: {bare_pages} pages in {bare_seconds:.1f} s",
        f"first sync: {first['seconds']:.1f} s ({first['seconds'] / bare_seconds:.2f}x bare), "
        f"{requests} requests vs minimum {minimum} "
        f"(+{(requests - minimum) / minimum * 100:.2f} %), peak RSS {first['peak_mb']:.0f} MB, "
        f"ok={first['report']['ok']}",
        f"request counts: {json.dumps(log1['counts'])}",
        f"second sync: {second['seconds']:.2f} s, {log2['total']} requests "
        f"({log2['not_modified']} answered 304): {json.dumps(log2['counts'])}; "
        f"new/changed: {sum(s['new'] + s['changed'] for s in again.values())}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
