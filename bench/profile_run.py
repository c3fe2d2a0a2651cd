"""`bmmsync run` with each webhook batch under cProfile (`bench/realtime.py --profile FILE`).

cProfile sees only the thread that enables it, so each `drain_once` of the worker thread is
profiled, in that thread's CPU time (`time.thread_time`: waits on the tracker and the store
do not count), and the stats are written to FILE every few seconds (the process ends by SIGTERM).
Usage: `python bench/profile_run.py FILE --config ... run`.
"""

from __future__ import annotations

import cProfile
import sys
import threading
import time
from typing import Any

from bmmsync.cli.main import main
from bmmsync.hooks import worker

PROFILE = cProfile.Profile(time.thread_time)
LOCK = threading.Lock()
DRAIN = worker.Worker.drain_once


def profiled(self: worker.Worker, *args: Any, **kwargs: Any) -> Any:
    with LOCK:
        PROFILE.enable()
        try:
            return DRAIN(self, *args, **kwargs)
        finally:
            PROFILE.disable()


def dump(path: str) -> None:
    while True:
        threading.Event().wait(5)
        with LOCK:
            PROFILE.dump_stats(path)


if __name__ == "__main__":
    worker.Worker.drain_once = profiled  # type: ignore[method-assign]
    threading.Thread(target=dump, args=(sys.argv.pop(1),), daemon=True).start()
    main()
