"""Debian's Chromium driven by Playwright, and a record of what a page did wrong.

Playwright cannot download its own browser here, so it drives `/usr/bin/chromium` (apt package
`chromium`, installed by scripts/_browser.sh). axe-core comes from npm, outside the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Request, Response

CHROMIUM = Path(os.environ.get("BMMSYNC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
AXE_JS = Path(
    os.environ.get(
        "BMMSYNC_AXE_JS",
        Path.home() / ".cache/bmmsync/node/node_modules/axe-core/axe.min.js",
    )
)
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class Tab:
    """A page under watch: console errors, uncaught exceptions and failed requests pile up in
    `problems`, so a test can assert that a page did nothing wrong while it was looked at."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    expected: tuple[str, int] = ("", 200)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        url, status = self.expected
        if message.location.get("url") == url and f"status of {status} " in message.text:
            return  # Chromium logs a document's error status too; `open` expected this one
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location})")

    def _failed(self, request: Request) -> None:
        if request.failure != "net::ERR_ABORTED" or request.resource_type != "document":
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        # The document's own status is checked by `open`; a 404 page is a page too.
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def open(self, path: str, status: int = 200) -> Response:
        """Go to `path` (relative to the app) and insist on the status the page should have."""
        self.expected = (self.base_url + path, status)
        response = self.page.goto(self.base_url + path)
        assert response is not None, f"no response for {path}"
        assert response.status == status, f"{path}: {response.status}, expected {status}"
        return response

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    The script goes in through the DevTools protocol, which the page's Content-Security-Policy
    does not govern, so the app's own CSP stays as strict as it is in production."""
    page.evaluate(AXE_JS.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in violations
    )
