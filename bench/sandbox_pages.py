"""How many GitHub list pages of 100 issues per second the sandbox serves to one client.

Starts the sandbox in a child process (`--seed N`), pages through `acme/web` issues with one
keep-alive HTTP connection (http.client: the thinnest client, so the figure is the
sandbox's), after one warm-up pass that fills the per-issue JSON cache. Also times the
generator for `--generate` tickets in-process.

    python bench/sandbox_pages.py [--tickets 40000] [--seconds 10] [--generate 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from urllib.parse import urlsplit

from bmmsync.sandbox.server import SandboxProcess
from bmmsync.sandbox.state import SandboxState


def fetch_pages(url: str, seconds: float) -> tuple[int, int, float]:
    """Page through repeatedly for `seconds`; (pages, bytes, elapsed)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    headers = {"Authorization": "token bot-token"}
    pages = size = 0
    start = time.perf_counter()
    page = 1
    while time.perf_counter() - start < seconds:
        conn.request(
            "GET",
            f"/github/repos/acme/web/issues?state=all&per_page=100&page={page}",
            headers=headers,
        )
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {body[:200]!r}")
        pages += 1
        size += len(body)
        page = page + 1 if b'rel="next"' in response.getheader("link", "").encode() else 1
    elapsed = time.perf_counter() - start
    conn.close()
    return pages, size, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=40_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--generate", type=int, default=1_000_000)
    args = parser.parse_args()
    results: dict[str, float] = {}
    if args.generate:
        from bmmsync.sandbox.seeding import seed_state

        state = SandboxState()
        t = time.perf_counter()
        seed_state(state, args.generate)
        results["generate_seconds"] = round(time.perf_counter() - t, 2)
        results["generated_tickets"] = args.generate
        del state
    with SandboxProcess(seed=args.tickets) as sandbox:
        fetch_pages(sandbox.url, 3)  # warm-up: fills the JSON caches
        pages, size, elapsed = fetch_pages(sandbox.url, args.seconds)
    results |= {
        "pages": pages,
        "pages_per_second": round(pages / elapsed, 1),
        "issues_per_second": round(pages * 100 / elapsed),
        "mb_per_second": round(size / elapsed / 1e6, 1),
        "avg_page_kb": round(size / pages / 1e3, 1),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
