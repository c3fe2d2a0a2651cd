"""The strategy map's tree: `<details>` that open and close, and links that lead where they say."""

from __future__ import annotations

from tests.browser.chromium import Tab
from tests.browser.pages import DEMO_CAPABILITY

OPEN = "el => el.open"


def test_the_tree_expands_and_collapses(tab: Tab) -> None:
    tab.open("/")
    link = tab.page.locator(f'a[href="/capabilities/{DEMO_CAPABILITY}"]').first
    *outer, node = link.locator("xpath=ancestor::details").all()  # outermost first
    for details in outer:  # the motivator and decision above it, collapsed or not
        if not details.evaluate(OPEN):
            details.locator("summary").first.click()
    was_open = node.evaluate(OPEN)
    node.locator("summary").first.click()
    assert node.evaluate(OPEN) is not was_open
    if was_open:
        node.locator("summary").first.click()
    assert node.evaluate(OPEN) is True
    assert link.is_visible()
    tab.assert_clean()


def test_a_capability_link_leads_to_that_capability(tab: Tab) -> None:
    tab.open("/")
    link = tab.page.locator(f'a[href="/capabilities/{DEMO_CAPABILITY}"]').first
    for details in link.locator("xpath=ancestor::details").all():  # outermost first
        if not details.evaluate(OPEN):
            details.locator("summary").first.click()
    link.click()
    tab.page.wait_for_url(f"**/capabilities/{DEMO_CAPABILITY}")
    assert "Self-service portal" in tab.page.locator("h1").inner_text()
    tab.assert_clean()
