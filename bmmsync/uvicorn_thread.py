"""uvicorn on a socket bound beforehand, in a daemon thread: the dashboard and the sandbox
both serve this way (port 0 picks a free port, a taken one fails at bind, before uvicorn)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket bound to (`host`, `port`) and listening.

    Made with `IPPROTO_TCP` rather than protocol 0: asyncio turns Nagle's algorithm off
    (TCP_NODELAY) only on accepted sockets whose protocol says TCP, and with it on, every
    keep-alive response after the first waited ~40 ms for the client's delayed ACK between
    uvicorn's header and body writes. Raises OSError if the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(backlog)
    return sock


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
