"""Keyboard users reach the review filters with Tab alone."""

from __future__ import annotations

from tests.browser.chromium import Tab

FOCUSED = "() => document.activeElement && document.activeElement.getAttribute('name')"


def test_tab_reaches_every_review_filter(tab: Tab) -> None:
    tab.open("/review")
    reached = set()
    for _ in range(60):
        tab.page.keyboard.press("Tab")
        reached.add(tab.page.evaluate(FOCUSED))
    assert {"reason", "source", "project", "q", "flagged_since"} <= reached
