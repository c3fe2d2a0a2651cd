"""Tracker text is untrusted: a title or label built to run script shows as text and runs
nothing, and a tracker link that is script is never a link."""

from __future__ import annotations

import pytest

from tests.browser.chromium import Tab
from tests.browser.dashboard import HOSTILE_LABEL, SCRIPT_LINK_KEY, TRAP, Dashboard
from tests.browser.pages import PAGES, explain

SCRIPT_LINKS = "a[href^='javascript:' i], [onerror], [onload], img[src='x']"


def assert_inert(tab: Tab) -> None:
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.evaluate(f"typeof {TRAP}") == "undefined"
    assert tab.page.locator(SCRIPT_LINKS).count() == 0


def test_a_hostile_title_shows_as_text_on_the_review(tab: Tab) -> None:
    tab.open("/review")
    assert_inert(tab)
    title = tab.page.get_by_text("<img src=x onerror=window.__pwned=1></script>", exact=False)
    assert title.first.is_visible()
    tab.assert_clean()


def test_a_hostile_ticket_explained_runs_nothing(tab: Tab, dashboard: Dashboard) -> None:
    tab.open(explain(dashboard.hostile_key))
    assert_inert(tab)
    assert tab.page.get_by_text(HOSTILE_LABEL, exact=False).first.is_visible()
    tab.assert_clean()


def test_a_script_link_from_the_tracker_is_not_a_link(tab: Tab) -> None:
    tab.open("/review?q=" + SCRIPT_LINK_KEY.replace("#", "%23"))
    assert_inert(tab)
    assert tab.page.get_by_text(SCRIPT_LINK_KEY, exact=True).first.is_visible()


@pytest.mark.parametrize("name", PAGES)
def test_no_page_runs_tracker_text(tab: Tab, name: str) -> None:
    tab.open(PAGES[name])
    assert_inert(tab)
