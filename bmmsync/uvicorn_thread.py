"""uvicorn on a socket bound beforehand, in a daemon thread: the dashboard and the sandbox
both serve this way (port 0 picks a free port, a taken one fails at bind, before uvicorn)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def start_in_thread(
    server: uvicorn.Server, sock: socket.socket, name: str, wait: float = 10.0
) -> threading.Thread | None:
    """Start `server` on `sock` in a daemon thread named `name`; the thread once the server
    accepts connections, or None if it has not started within `wait` seconds (or died)."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + wait
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            return None
        time.sleep(0.01)
    return thread
