"""Run the sandbox with uvicorn: in a background thread (tests) or in the foreground (CLI).

`SandboxServer` binds port 0 itself so the OS picks a free port before uvicorn starts,
which avoids the race of "find a free port, then bind it".
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from bmmsync.sandbox.app import Sandbox, create_app
from bmmsync.sandbox.seeding import seed_state
from bmmsync.sandbox.state import SandboxState
from bmmsync.uvicorn_thread import listening_socket, start_in_thread


class SandboxServer:
    """Context manager: a live sandbox on `url` (`github_url`, `jira_url`), `state` inside.

    `seed` is "demo", a ticket count, or None for an empty sandbox. With `state_file`, data
    is loaded from it when present and saved to it (every second when changed, and on stop).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: str | int | None = "demo",
        jira_deployment: str = "cloud",
        state_file: Path | None = None,
    ) -> None:
        self.sandbox = Sandbox()
        self.state: SandboxState = self.sandbox.state
        self.state_file = state_file
        if state_file is not None and state_file.exists():
            self.state.load(state_file)
        elif seed is not None:
            seed_state(self.state, seed, jira_deployment)
        else:
            self.state.reset(jira_deployment)
        self.app = create_app(self.sandbox)
        # connections queue up even before uvicorn takes over
        self._socket = listening_socket(host, port, backlog=2048)
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._saver: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def github_url(self) -> str:
        return self.url + "/github"

    @property
    def jira_url(self) -> str:
        return self.url + "/jira"

    def start(self) -> SandboxServer:
        self._thread = start_in_thread(self._server, self._socket, "sandbox-server")
        if self._thread is None:
            raise RuntimeError("sandbox server did not start")
        if self.state_file is not None:
            self._saver = threading.Thread(
                target=self._save_loop, name="sandbox-saver", daemon=True
            )
            self._saver.start()
        return self

    def serve_forever(self) -> None:
        """Serve until SIGINT/SIGTERM, then stop cleanly (and save the state file).

        uvicorn runs in its thread as in tests; the signals land here, in the main thread,
        so the shutdown path (and the final save) always runs.
        """
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._finish()

    def _finish(self) -> None:
        self._stopping.set()
        if self._saver is not None:
            self._saver.join(timeout=10)
        if self.state_file is not None:
            self.state.save(self.state_file)
        self._socket.close()

    def _save_loop(self) -> None:
        while not self._stopping.wait(1.0):
            if self.state.dirty and self.state_file is not None:
                self.state.save(self.state_file)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxProcess:
    """The sandbox in a child process (`python -m bmmsync.sandbox`): no GIL shared with the
    client, so benchmarks measure the client. Same URLs as `SandboxServer`; no `state`."""

    def __init__(self, seed: str | int = "demo", jira_deployment: str = "cloud") -> None:
        self.args = [
            sys.executable,
            "-m",
            "bmmsync.sandbox",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--jira-deployment",
            jira_deployment,
        ]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def github_url(self) -> str:
        return self.url + "/github"

    @property
    def jira_url(self) -> str:
        return self.url + "/jira"

    def __enter__(self) -> SandboxProcess:
        self._proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            match = re.match(r"Control: (http://\S+)/_sandbox/", line)
            if match:
                self.url = match.group(1)
                return self
        raise RuntimeError("sandbox process exited before it printed its URL")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
