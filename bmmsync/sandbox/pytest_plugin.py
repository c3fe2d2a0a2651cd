"""Pytest fixtures for tests that talk to the sandbox over HTTP.

Enable with `pytest_plugins = ["bmmsync.sandbox.pytest_plugin"]`. One server per test session
(per xdist worker); each test gets it reset and seeded with the demo data, default config.

- `sandbox_server`: session-scoped `SandboxServer` (use the function fixtures instead).
- `sandbox`: the server, freshly seeded with the demo data, Jira Cloud.
- `sandbox_jira_server`: the same, with Jira answering as Server/Data Center.
- `sandbox_control`: a `SandboxControl` client for the control API of `sandbox`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bmmsync.sandbox.config import SandboxConfig
from bmmsync.sandbox.server import SandboxServer


class SandboxControl:
    """Thin httpx client for `/_sandbox/` (see `bmmsync.sandbox.control` for the API)."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url.rstrip("/") + "/_sandbox", timeout=30)

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = self.client.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise AssertionError(
                f"{method} /_sandbox{path}: {response.status_code} {response.text}"
            )
        return response.json()

    def reset(self, jira_deployment: str | None = None) -> Any:
        return self._call("POST", "/reset", {"jira_deployment": jira_deployment})

    def seed(self, seed: str | int = "demo", jira_deployment: str | None = None) -> Any:
        return self._call("POST", "/seed", {"seed": seed, "jira_deployment": jira_deployment})

    def state(self, repo: str | None = None, key: str | None = None) -> Any:
        params = {k: v for k, v in (("repo", repo), ("key", key)) if v}
        return self._call("GET", "/state", params=params)

    def github_issue(self, repo: str, number: int) -> dict[str, Any]:
        issues = self.state(repo=repo)["github"][repo]["issues"]
        return next(i for i in issues if i["number"] == number)

    def jira_issue(self, key: str) -> dict[str, Any]:
        return self.state(key=key)["jira"]["issues"][0]  # type: ignore[no-any-return]

    def fault(
        self,
        route: str,
        status: int | str,
        count: int = 1,
        method: str | None = None,
        after: int = 0,
    ) -> Any:
        return self._call(
            "POST",
            "/faults",
            {"route": route, "status": status, "count": count, "method": method, "after": after},
        )

    def holds(self) -> list[dict[str, str]]:
        """Requests a `hold` fault keeps waiting."""
        return self._call("GET", "/holds")  # type: ignore[no-any-return]

    def release(self) -> Any:
        """Let every held request go on (each gets its normal answer)."""
        return self._call("DELETE", "/holds")

    def config(self, **changes: Any) -> Any:
        return self._call("POST", "/config", changes)

    def clock(self, **changes: Any) -> Any:
        return self._call("POST", "/clock", changes)

    def requests(self, include_requests: bool = True) -> Any:
        return self._call(
            "GET", "/requests", params=None if include_requests else {"requests": "false"}
        )

    def clear_requests(self) -> Any:
        return self._call("DELETE", "/requests")

    def github_create_repo(self, owner: str, name: str) -> Any:
        return self._call("POST", "/github/repos", {"owner": owner, "name": name})

    def github_create(self, **fields: Any) -> Any:
        return self._call("POST", "/github/issues", fields)

    def github_change(self, repo: str, number: int, **changes: Any) -> Any:
        return self._call("PATCH", f"/github/issues/{repo}/{number}", changes)

    def github_comment(self, repo: str, number: int, body: str, actor: str = "alice") -> Any:
        return self._call(
            "POST",
            "/github/comments",
            {"repo": repo, "number": number, "body": body, "actor": actor},
        )

    def jira_create(self, **fields: Any) -> Any:
        return self._call("POST", "/jira/issues", fields)

    def jira_change(self, key: str, **changes: Any) -> Any:
        return self._call("PATCH", f"/jira/issues/{key}", changes)

    def jira_delete(self, key: str) -> Any:
        return self._call("DELETE", f"/jira/issues/{key}")

    def jira_comment(self, key: str, body: str, actor: str = "alice") -> Any:
        return self._call("POST", "/jira/comments", {"key": key, "body": body, "actor": actor})

    def close(self) -> None:
        self.client.close()


def _fresh(server: SandboxServer, jira_deployment: str) -> SandboxServer:
    from bmmsync.sandbox.seeding import seed_state

    server.state.config.update(SandboxConfig().as_dict())
    server.state.clock.release()
    seed_state(server.state, "demo", jira_deployment)
    server.sandbox.limits.reset()
    server.sandbox.faults.clear()
    server.sandbox.log.clear()
    server.sandbox.webhooks.clear()
    return server


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(seed=None) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    return _fresh(sandbox_server, "cloud")


@pytest.fixture
def sandbox_jira_server(sandbox_server: SandboxServer) -> SandboxServer:
    return _fresh(sandbox_server, "server")


@pytest.fixture
def sandbox_control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    control = SandboxControl(sandbox.url)
    yield control
    control.close()
