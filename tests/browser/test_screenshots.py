"""A 1280x800 screenshot of each page, small enough to keep in the repository.

They go to a temporary directory, or to `$BMMSYNC_SCREENSHOTS` (scripts/screenshots sets it
to docs/screenshots, which the README shows)."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.chromium import VIEWPORT, Tab
from tests.browser.pages import PAGES

MAX_BYTES = 150_000


def small(png: bytes, path: Path) -> None:
    """A 256-colour palette: text and flat colours lose nothing visible, the file ~3x less."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(tab: Tab, tmp_path: Path, name: str) -> None:
    directory = Path(os.environ.get("BMMSYNC_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    tab.open(PAGES[name])
    tab.page.wait_for_load_state("networkidle")
    path = directory / f"{name}.png"
    small(tab.page.screenshot(), path)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])
    assert len(png) < MAX_BYTES, f"{path}: {len(png):,} bytes"
    tab.assert_clean()
