"""Debian's Chromium for Playwright: never a downloaded browser, no background traffic."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING_MESSAGE = (
    f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
    "the browser tests never download a browser"
)
