"""Keyboard users reach every filter with Tab alone."""

from __future__ import annotations

import pytest

from tests.browser.chromium import Tab

FOCUSED = "() => document.activeElement && document.activeElement.getAttribute('name')"


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/review", {"reason", "source", "project", "q", "flagged_since", "sort"}),
        ("/", {"source", "project"}),
    ],
)
def test_tab_reaches_every_filter(tab: Tab, path: str, filters: set[str]) -> None:
    tab.open(path)
    reached = set()
    for _ in range(40):
        tab.page.keyboard.press("Tab")
        reached.add(tab.page.evaluate(FOCUSED))
    assert filters <= reached
