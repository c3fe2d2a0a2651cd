"""Time judging synthetic tickets in memory (no store): `python bench/trace_core.py -n 1000000`.

CPU time (`time.process_time`: process user+sys) is printed beside wall time, since the
machine is shared; the target is in tickets per CPU-second."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import TODAY, build

from bmmsync.trace.incremental import ChildrenIndex
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import judge, tickets_by_source
from bmmsync.trace.rules import MappingRules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    model, tickets = build(args.tickets, args.seed)
    built = time.perf_counter()
    cpu_started = time.process_time()
    index = MapIndex(model)
    verdicts = judge(tickets, index, MappingRules(), TODAY)
    judged = time.perf_counter()
    cpu = time.process_time() - cpu_started

    incremental_started, incremental_cpu = time.perf_counter(), time.process_time()
    context = tickets_by_source(tickets)
    children = ChildrenIndex(tickets)
    prepared = time.perf_counter()
    changed = [(t.source, t.key) for t in tickets[:: max(1, len(tickets) // 1000)]][:1000]
    affected = children.with_descendants(changed)
    subset = [context[source][key] for source, key in affected]
    judge(subset, index, MappingRules(), TODAY, context=context)
    incremental = time.perf_counter() - prepared
    incremental_cpu = time.process_time() - incremental_cpu

    reasons = Counter(v.primary.reason if v.primary else "traced" for v in verdicts)
    elapsed = judged - built
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated {len(tickets):,} tickets in {built - started:.1f}s")
    print(
        f"judged {len(verdicts):,} tickets in {elapsed:.2f}s"
        f" = {len(verdicts) / elapsed:,.0f} tickets/s"
    )
    print(f"  cpu time {cpu:.2f}s = {len(verdicts) / cpu:,.0f} tickets per cpu-second")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(
        f"incremental: {len(changed):,} changed -> {len(affected):,} re-judged in "
        f"{incremental:.3f}s (plus {prepared - incremental_started:.2f}s to index the backlog once;"
        f" cpu {incremental_cpu:.3f}s in all)"
    )
    print(f"peak RSS {peak_mb:,.0f} MB (includes the synthetic data)")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:32s} {count:>9,} {count / len(verdicts):6.1%}")


if __name__ == "__main__":
    main()
