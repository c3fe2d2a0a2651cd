"""The `hold` fault: a request waits, visibly, until released, then gets its real answer."""

from __future__ import annotations

import threading
import time

import httpx

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer

BOT = {"Authorization": "token bot-token"}


def test_hold_after_n_keeps_the_next_request_until_released(
    sandbox: SandboxServer, sandbox_control: SandboxControl
) -> None:
    sandbox_control.fault("/github/repos/acme/web/issues", "hold", after=1)
    answers: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=sandbox.url, timeout=30) as http:
            for _ in range(2):
                answers.append(http.get("/github/repos/acme/web/issues", headers=BOT).status_code)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 10
    while not sandbox_control.holds() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox_control.holds() == [{"method": "GET", "path": "/github/repos/acme/web/issues"}]
    assert answers == [200], "the first request passed, the second is held"
    sandbox_control.release()
    caller.join(timeout=10)
    assert answers == [200, 200]
    assert sandbox_control.holds() == []
    log = sandbox_control.requests()["requests"]
    assert [r["fault"] for r in log] == [None, "hold"]


def test_a_held_write_whose_client_gave_up_still_lands_on_release(
    sandbox: SandboxServer, sandbox_control: SandboxControl
) -> None:
    path = "/github/repos/acme/web/issues/1/comments"
    sandbox_control.fault(path, "hold", method="POST")
    with httpx.Client(base_url=sandbox.url, timeout=0.5) as http:
        try:
            http.post(path, headers=BOT, json={"body": "landed while nobody waited"})
        except httpx.TimeoutException:
            pass
        else:
            raise AssertionError("the request was not held")
    assert sandbox_control.holds()
    sandbox_control.release()
    deadline = time.monotonic() + 10
    while sandbox_control.holds() and time.monotonic() < deadline:
        time.sleep(0.01)
    bodies = [c["body"] for c in sandbox_control.github_issue("acme/web", 1)["comment_list"]]
    assert "landed while nobody waited" in bodies
