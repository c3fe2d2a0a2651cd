"""Browser fixtures: one Chromium per xdist worker, a fresh watched tab per test.

Every test here is marked `browser`; they skip when Chromium, Playwright or axe-core is
missing, and CI refuses skipped browser items, so a green CI means they ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import create_store_engine, upgrade
from tests.browser.chromium import AXE_JS, CHROMIUM, CHROMIUM_FLAGS, VIEWPORT, Tab
from tests.browser.dashboard import Dashboard, fill_store, serve
from tests.conftest import _drop_pg, _fresh_pg_url


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


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def dashboard(
    request: pytest.FixtureRequest,
    sandbox_server: SandboxServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dashboard]:
    """`bmmsync serve` over a synced, checked and flagged demo store, once per database.

    Session-wide because filling the store is the slow part and pages only read it."""
    directory = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        db_url = f"sqlite:///{directory / 'store.db'}"
        engine = create_store_engine(db_url)
        upgrade(engine)
        engine.dispose()
    else:
        pg_name, db_url = _fresh_pg_url(request.getfixturevalue("pg_template"))
    config, hostile_key = fill_store(sandbox_server, directory, db_url)
    process, url = serve(config, directory / "serve.log")
    yield Dashboard(url, config, db_url, hostile_key)
    process.terminate()
    process.wait(timeout=30)
    if pg_name:
        _drop_pg(pg_name)


@pytest.fixture
def tab(browser_page: Page, dashboard: Dashboard) -> Tab:
    """A watched page on the dashboard."""
    return Tab(browser_page, dashboard.url)
