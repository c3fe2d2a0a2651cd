"""Every page loads clean (no console error, no failed request), passes axe-core, and links
only where it says: same-origin pages that answer, or the tracker over http(s)."""

from __future__ import annotations

import pytest

from tests.browser.chromium import Tab, axe_violations, describe
from tests.browser.dashboard import Dashboard
from tests.browser.pages import PAGES, explain

LINKS = "els => els.map(e => [e.getAttribute('href'), e.href, e.textContent.trim()])"
# The nav's "Explain" asks for a key: a 400 page that holds the key form (the web app's choice).
ANSWERS = {"/explain": 400}


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_clean_and_accessible(tab: Tab, name: str) -> None:
    tab.open(PAGES[name])
    tab.page.wait_for_load_state("networkidle")
    tab.assert_clean()
    assert tab.page.locator("h1").count() == 1
    violations = axe_violations(tab.page)
    assert violations == [], describe(violations)


@pytest.mark.parametrize("path", ["/capabilities/self-service-portl", explain("acme/web#99999")])
def test_unknown_ids_get_a_helpful_404(tab: Tab, path: str) -> None:
    tab.open(path, status=404)
    tab.assert_clean()
    suggestions = tab.page.eval_on_selector_all("main a[href]", LINKS)
    assert suggestions, "a 404 that helps links to what does exist"
    violations = axe_violations(tab.page)
    assert violations == [], describe(violations)


@pytest.mark.parametrize("name", PAGES)
def test_links_answer_and_stay_on_http(tab: Tab, dashboard: Dashboard, name: str) -> None:
    tab.open(PAGES[name])
    for href, absolute, text in tab.page.eval_on_selector_all("a[href]", LINKS):
        assert absolute.startswith(("http://", "https://")), f"{href!r} ({text!r})"
        if absolute.startswith(dashboard.url):
            response = tab.page.request.get(absolute, max_redirects=0)
            want = ANSWERS.get(href, 200)
            assert response.status == want, f"{href} ({text!r}): {response.status}"
