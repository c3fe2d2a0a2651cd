"""Sprint planning in the browser: the filters narrow the list (without script too), and each
download is byte for byte what `bmmsync review` prints for the same store."""

from __future__ import annotations

import json

import pytest

from tests.browser.chromium import Tab
from tests.browser.dashboard import SCRIPT_LINK_KEY, Dashboard
from tests.cli.helpers import run_cli

ROWS = "main a[href^='/explain?key=']"


def listed_keys(tab: Tab) -> list[str]:
    hrefs = tab.page.eval_on_selector_all(ROWS, "els => els.map(e => e.getAttribute('href'))")
    return sorted(set(hrefs))


def api_keys(tab: Tab, query: str) -> list[str]:
    body = tab.page.request.get(f"{tab.base_url}/api/review{query}").json()
    return sorted({item["explain"] for item in body["results"]["items"]})


def test_the_reason_filter_narrows_the_list(tab: Tab) -> None:
    tab.open("/review")
    everything = listed_keys(tab)
    assert everything == api_keys(tab, "")
    form = tab.page.locator("form:has(select[name=reason])")
    form.locator("select[name=reason]").select_option("no-capability")
    with tab.page.expect_navigation():
        form.locator("[type=submit]").click()
    assert "reason=no-capability" in tab.page.url
    narrowed = listed_keys(tab)
    assert narrowed == api_keys(tab, "?reason=no-capability")
    assert 0 < len(narrowed) < len(everything)
    assert set(narrowed) <= set(everything)
    tab.assert_clean()


def test_the_text_filter_narrows_the_list(tab: Tab) -> None:
    tab.open("/review")
    everything = listed_keys(tab)
    search = tab.page.locator("input[name=q]")
    search.fill("onerror")
    live = tab.page.locator("#review-rows tbody tr:visible")
    assert live.count() == 1, "the script's live filter hides the other rows as one types"
    with tab.page.expect_navigation():
        search.press("Enter")
    narrowed = listed_keys(tab)
    assert narrowed == api_keys(tab, "?q=onerror")
    assert len(narrowed) == 1 < len(everything)
    tab.assert_clean()


@pytest.mark.parametrize(
    ("label", "fmt"), [("CSV", "csv"), ("Markdown", "markdown"), ("JSON", "json")]
)
def test_downloads_match_bmmsync_review(
    tab: Tab, dashboard: Dashboard, label: str, fmt: str
) -> None:
    tab.open("/review")
    with tab.page.expect_download() as download:
        tab.page.get_by_role("link", name=label, exact=True).click()
    got = download.value.path().read_text()
    printed = run_cli("--config", str(dashboard.config), "review", "--format", fmt)
    assert printed.returncode == 0, printed.stderr
    if fmt == "markdown":
        assert "](javascript:" not in got.lower()
        assert SCRIPT_LINK_KEY.replace("#", "\\#") in got, "the key stays, as text"
    if fmt == "json":
        assert json.loads(got) == json.loads(printed.stdout)
    else:
        assert got.strip() == printed.stdout.strip()
    tab.assert_clean()
