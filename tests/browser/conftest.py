"""The browser every dashboard test drives: Debian's Chromium through Playwright."""

from __future__ import annotations

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, MISSING_MESSAGE


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail(MISSING_MESSAGE)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield instance
        finally:
            instance.close()
