"""A webhook worker in a process of its own, as `bmmsync run` runs it (killed by tests)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from bmmsync.config.settings import load_config
from bmmsync.hooks.worker import Worker
from bmmsync.store.database import Store

if __name__ == "__main__":
    config = load_config(Path(sys.argv[1]))
    store = Store.open(config.store.url.get_secret_value())
    Worker(lambda: config, store, sys.argv[2]).serve(threading.Event())
