"""How long `bmmsync demo` takes end to end, the README's first command (target: under 60 s).

Runs the console script `--runs` times, each in a fresh directory, and prints every wall
time, the median, the CPU time of the child processes and the 1-minute load average, so a
figure taken on a busy machine says so. The timing target lives here, not in a timed test.

    python bench/demo.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BMMSYNC = str(Path(sys.executable).with_name("bmmsync"))


def one_run() -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) for one `bmmsync demo`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="bmmsync-bench-demo-") as directory:
        start = time.perf_counter()
        subprocess.run(
            [BMMSYNC, "demo", "--dir", directory],
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            check=True,
            timeout=600,
        )
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls = []
    for n in range(1, args.runs + 1):
        wall, cpu = one_run()
        walls.append(wall)
        print(f"run {n}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}")
    median = statistics.median(walls)
    verdict = "met" if median < 60 else "MISSED"
    print(f"median {median:.1f} s over {len(walls)} runs (target < 60 s: {verdict})")


if __name__ == "__main__":
    main()
