"""The watchers the dashboard tests rely on can fail: each one catches a page built to trip it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page

from tests.browser.chromium import Tab, axe_violations

PAGES = {
    "/clean": (
        "default-src 'self'",
        "<!doctype html><html lang=en><head><title>clean</title></head>"
        "<body><main><h1>Clean</h1><p>Nothing wrong here.</p></main></body></html>",
    ),
    "/broken": (
        "default-src 'self'",
        "<!doctype html><html lang=en><head><title>broken</title></head><body><main>"
        "<script>window.ran = 1</script><img src=/missing.png></main></body></html>",
    ),
    "/trap": (
        "",
        "<!doctype html><html lang=en><head><title>trap</title></head><body><main>"
        "<img alt=trap src=x onerror=window.__pwned=1></main></body></html>",
    ),
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        csp, body = PAGES.get(self.path, ("", ""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_clean_page_leaves_nothing_to_report(browser_page: Page, site: str) -> None:
    tab = Tab(browser_page, site)
    tab.open("/clean")
    tab.assert_clean()
    assert axe_violations(browser_page) == []


def test_csp_refusals_and_missing_resources_are_caught(browser_page: Page, site: str) -> None:
    tab = Tab(browser_page, site)
    tab.open("/broken")
    browser_page.wait_for_load_state("networkidle")
    assert any("Content Security Policy" in p for p in tab.problems), tab.problems
    assert any(p.startswith("404 for") for p in tab.problems), tab.problems
    assert browser_page.evaluate("window.ran") is None
    assert "image-alt" in {v["id"] for v in axe_violations(browser_page)}


def test_the_hostile_title_trap_can_spring(browser_page: Page, site: str) -> None:
    Tab(browser_page, site).open("/trap")
    browser_page.wait_for_function("window.__pwned === 1")
