"""The sandbox as one ASGI app: `/github`, `/jira`, `/_sandbox`, plus faults and the log.

Starlette does the routing (mature, typed, small); the thin ASGI wrapper here applies
injected faults, records every request and turns any unexpected exception into a 500 body
so a request can never take the server down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.routing import Mount, Router
from starlette.types import Message, Receive, Scope, Send

from bmmsync.sandbox.config import SandboxConfig
from bmmsync.sandbox.faults import FaultBook
from bmmsync.sandbox.github_api import DOCS, GitHubApi
from bmmsync.sandbox.jira_api import JiraApi
from bmmsync.sandbox.limits import Limits
from bmmsync.sandbox.request_log import LoggedRequest, RequestLog
from bmmsync.sandbox.state import GITHUB_TOKENS, SandboxState
from bmmsync.sandbox.web import dumps
from bmmsync.sandbox.webhooks import WebhookBook

log = logging.getLogger(__name__)


class Sandbox:
    """Everything one sandbox server holds; tests reach it through `SandboxServer.sandbox`."""

    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState(config=SandboxConfig())
        self.limits = Limits(self.state.config, self.state.clock)
        self.faults = FaultBook()
        self.log = RequestLog()
        self.webhooks = WebhookBook(self.state)
        self.state.webhooks = self.webhooks


def _error_body(path: str, status: int, message: str) -> bytes:
    if path.startswith("/jira"):
        return dumps({"errorMessages": [message], "errors": {}})
    return dumps({"message": message, "documentation_url": DOCS, "status": str(status)})


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


REFUSALS = ("403", "404", "410")
_GITHUB_REFUSALS = {
    404: "Not Found",
    410: "This issue was deleted",
}
_JIRA_REFUSALS = {
    403: "You do not have permission to edit issues in this project.",
    404: "Issue does not exist or you do not have permission to see it.",
    410: "The issue no longer exists.",
}


def _refusal(scope: Scope, status: int) -> bytes:
    """A refusal in the body the tracker sends: GitHub names what the token is (an App's
    installation token or a personal token); Jira lists error messages."""
    path = scope["path"]
    if path.startswith("/jira"):
        return dumps({"errorMessages": [_JIRA_REFUSALS[status]], "errors": {}})
    message = _GITHUB_REFUSALS.get(status)
    if message is None:
        headers = dict(scope.get("headers") or [])
        token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")[2].strip()
        who = "personal access token" if token in GITHUB_TOKENS else "integration"
        message = f"Resource not accessible by {who}"
    return _error_body(path, status, message)


def _not_found(prefix: str) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(
            send,
            404,
            _error_body(
                prefix,
                404,
                (f"No resource found for {scope['path']}" if prefix == "/jira" else "Not Found"),
            ),
        )

    return app


def create_app(sandbox: Sandbox) -> SandboxApp:
    from bmmsync.sandbox.control import ControlApi  # control imports app types

    github = Router(
        GitHubApi(sandbox.state, sandbox.limits).routes(),
        redirect_slashes=False,
        default=_not_found("/github"),
    )
    jira = Router(
        JiraApi(sandbox.state, sandbox.limits).routes(),
        redirect_slashes=False,
        default=_not_found("/jira"),
    )
    control = Router(
        ControlApi(sandbox).routes(), redirect_slashes=False, default=_not_found("/_sandbox")
    )
    router = Router(
        [Mount("/github", app=github), Mount("/jira", app=jira), Mount("/_sandbox", app=control)],
        redirect_slashes=False,
        default=_not_found("/"),
    )
    return SandboxApp(sandbox, router)


class SandboxApp:
    def __init__(self, sandbox: Sandbox, router: Router) -> None:
        self.sandbox = sandbox
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        tracked = not path.startswith("/_sandbox")  # the log shows tracker traffic only
        generation = self.sandbox.log.begin() if tracked else 0
        fault = self.sandbox.faults.take(method, path) if tracked else None
        status = 0

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if fault is None:
                await self.router(scope, receive, logged_send)
            else:
                await self._fault(fault, scope, receive, logged_send)
        except Exception:  # the sandbox must never crash on a request
            log.exception("sandbox request failed: %s %s", method, path)
            if status == 0:
                status = 500
                await _send_json(send, 500, _error_body(path, 500, "Internal sandbox error"))
        finally:
            if tracked:
                self.sandbox.log.add(
                    LoggedRequest(
                        method=method,
                        path=path,
                        query=scope.get("query_string", b"").decode("latin-1"),
                        status=status,
                        user=scope.get("sandbox.user"),
                        route=scope.get("sandbox.route"),
                        fault=fault,
                    ),
                    generation,
                )

    async def _fault(self, fault: str, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if fault in REFUSALS:
            await _send_json(send, int(fault), _refusal(scope, int(fault)))
        elif fault.isdigit():
            status = int(fault)
            headers = [(b"retry-after", b"1")] if status in (429, 503) else []
            message = {
                500: "Server Error",
                502: "Bad Gateway",
                503: "Service Unavailable",
                429: "Too Many Requests",
            }[status]
            await _send_json(send, status, _error_body(path, status, message), headers)
        elif fault == "hold":
            # The whole request is taken in first, so a client killed while held still gets
            # its write made on release: as on a real tracker, it landed, unanswered.
            messages = [await receive()]
            while messages[-1]["type"] == "http.request" and messages[-1].get("more_body"):
                messages.append(await receive())

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            faults = self.sandbox.faults
            held = faults.hold(scope["method"], path)
            deadline = time.monotonic() + self.sandbox.state.config.timeout_seconds
            try:
                while not faults.is_released(held) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
            finally:
                faults.unhold(held)
            await self.router(scope, replay, send)
        elif fault == "timeout":
            await asyncio.sleep(self.sandbox.state.config.timeout_seconds)
            await _send_json(send, 504, _error_body(path, 504, "Gateway Timeout"))
        elif fault == "malformed":
            await _send_json(send, 200, b'{"message": "this is not valid JSON",,]')
        else:  # truncated: the real answer, cut in half (a page that stops mid-issue)
            start: dict[str, Any] = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                else:
                    chunks.append(message.get("body", b""))

            await self.router(scope, receive, capture)
            body = b"".join(chunks)
            body = body[: len(body) // 2]
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"etag")
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": start.get("status", 200),
                    "headers": [*headers, (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
