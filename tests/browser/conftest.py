"""Browser fixtures: one Chromium per xdist worker, a fresh watched tab per test.

Every test here is marked `browser`; they skip when Chromium, Playwright or axe-core is
missing, and CI refuses skipped browser items, so a green CI means they ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.chromium import AXE_JS, CHROMIUM, CHROMIUM_FLAGS, VIEWPORT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The browser, launched once per worker."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/test (it installs chromium)")
    if not AXE_JS.exists():
        pytest.skip(f"{AXE_JS} is missing: run scripts/test (it installs axe-core)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A page in a context of its own (no cookies or storage shared), 1280x800."""
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()
