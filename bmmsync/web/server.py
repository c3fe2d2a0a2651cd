"""Serve the dashboard with uvicorn in a background thread, so one process is the service.

The socket is bound before uvicorn starts (port 0 picks a free one, and a taken port fails
here, at once, with a clear error), and `stop()` ends the server cleanly.
"""

from __future__ import annotations

import threading
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from bmmsync.errors import BmmsyncError
from bmmsync.uvicorn_thread import listening_socket, start_in_thread


class WebServerError(BmmsyncError):
    """The dashboard cannot listen where it was told to."""

    exit_code = 2


class DashboardServer:
    """Context manager: the app served on `url` from a daemon thread."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        try:
            self._socket = listening_socket(host, port, backlog=1024)
        except OSError as exc:
            raise WebServerError(
                f"web.listen: cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, server_header=False
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> DashboardServer:
        self._thread = start_in_thread(self._server, self._socket, "dashboard-server")
        if self._thread is None:
            raise WebServerError("the dashboard server did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
