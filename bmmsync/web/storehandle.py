"""The dashboard's way to the store: opened on first use, and again after the store was down.

`bmmsync serve` must start (and answer /livez, and /readyz with 503) even when the database is
not reachable yet, and keep serving once it is back; so the store is opened lazily, and a
failure to open is retried on the next request instead of ending the process.
"""

from __future__ import annotations

import threading

from sqlalchemy import text

from bmmsync.errors import StoreError
from bmmsync.store.database import Store, current_revision, head_revision


class StoreHandle:
    """Opens `url` on first `get()`; `get()` raises `StoreError` while it cannot be opened."""

    def __init__(self, url: str, store: Store | None = None) -> None:
        self.url = url
        self._store = store
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.url)
            return self._store

    def ready(self) -> str | None:
        """None when the store answers and its schema is current, else why not."""
        try:
            store = self.get()
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            revision = current_revision(store.engine)
        except StoreError as exc:
            return str(exc)
        except Exception as exc:  # any driver error means "not ready", never a crash
            return (
                f"store unavailable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
        head = head_revision()
        if revision != head:
            return f"the store's schema is at {revision}, this bmmsync needs {head}"
        return None

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
