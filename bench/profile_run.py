"""`bmmsync run` with each webhook batch under cProfile (`bench/realtime.py --profile FILE`).

cProfile sees only the thread that enables it, so each `drain_once` of the worker thread is
profiled, in that thread's CPU time (`time.thread_time`: waits on the tracker and the store
do not count); the stats are written to FILE after a batch, every 5 s at most (the process
ends by SIGTERM).
Usage: `python bench/profile_run.py FILE --config ... run`.
"""

from __future__ import annotations

import cProfile
import sys
import time
from typing import Any

from bmmsync.cli.main import main
from bmmsync.hooks import worker

PROFILE = cProfile.Profile(time.thread_time)
DRAIN = worker.Worker.drain_once
DUMPED = [time.monotonic()]


def profiled(self: worker.Worker, *args: Any, **kwargs: Any) -> Any:
    PROFILE.enable()
    try:
        return DRAIN(self, *args, **kwargs)
    finally:
        PROFILE.disable()
        if time.monotonic() - DUMPED[0] > 5:  # after a batch, at most every 5 s
            PROFILE.dump_stats(sys.argv[0])
            DUMPED[0] = time.monotonic()


if __name__ == "__main__":
    worker.Worker.drain_once = profiled  # type: ignore[method-assign]
    sys.argv.pop(0)  # FILE becomes argv[0], where the dumps go
    main(sys.argv[1:])
