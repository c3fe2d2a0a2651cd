"""The servers' listening socket: keep-alive answers must not wait on Nagle's algorithm.

With Nagle on, each keep-alive response after the first waited ~40 ms for the client's
delayed ACK between uvicorn's header and body writes (every sandbox call in the suite, every
dashboard page). The test asks the accepted connection itself, as asyncio made it."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from bmmsync.uvicorn_thread import listening_socket


def test_accepted_connections_have_nagle_off() -> None:
    async def accepted_nodelay() -> int:
        sock = listening_socket("127.0.0.1", 0, backlog=8)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 30)
        finally:
            writer.close()
            server.close()

    # a thread of its own: a browser test's Playwright may hold this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(accepted_nodelay())).result() != 0


def test_a_taken_port_fails_at_bind() -> None:
    with listening_socket("127.0.0.1", 0, backlog=1) as taken:
        port = taken.getsockname()[1]
        try:
            listening_socket("127.0.0.1", port, backlog=1).close()
        except OSError:
            return
        raise AssertionError("a second socket bound a port that is listening")
