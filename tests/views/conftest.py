"""A real browser for the view tests: Debian's Chromium, driven through Playwright.

The tests skip, saying why, when Chromium or the playwright package is absent. Screenshots go
to each test's tmp_path, and also to the folder CS_MCP_VIEW_SCREENSHOTS names, if it is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright gives each launch a fresh temporary profile (it refuses --user-data-dir here).


def chromium_path() -> str | None:
    """The Chromium to drive: CS_MCP_CHROMIUM, else the distribution's."""
    given = os.environ.get("CS_MCP_CHROMIUM")
    if given:
        return given
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser() -> AsyncGenerator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or run .ci/chromium.sh)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


def keep_screenshot(path: Path) -> None:
    """Copies a screenshot to CS_MCP_VIEW_SCREENSHOTS when that names a folder."""
    folder = os.environ.get("CS_MCP_VIEW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)
