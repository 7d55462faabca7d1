"""Screenshot the dashboard under the demo workload: `python -m demo.screenshot docs/dashboard.png`.

Starts a demo server (RIPTIDE_DEMO=true) on a free loopback port with its own database,
signs in with a throwaway staff user in Debian's Chromium, lets the charts fill, presses
both buttons and saves a full-page screenshot. Everything is stopped afterwards.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.servers import DaphneServer

logger = logging.getLogger(__name__)

USERNAME, PASSWORD = "screenshot", "screenshot-password-not-secret"


def capture(output: Path, *, seconds: float, width: int, height: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="riptide-screenshot-") as workdir:
        server = DaphneServer(
            Path(workdir),
            env={
                "RIPTIDE_DEMO": "true",
                "PROFILING_MEMORY_INTERVAL_SECS": "1",
                "PROFILING_LEAK_CHECK_INTERVAL_SECS": "10",
                "DJANGO_LOG_LEVEL": "WARNING",
            },
        )
        with server:
            server.manage(
                "shell",
                "-c",
                "from django.contrib.auth.models import User; "
                f"User.objects.create_user({USERNAME!r}, password={PASSWORD!r}, is_staff=True)",
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(server.base_url + "/")
                    page.fill("#id_username", USERNAME)
                    page.fill("#id_password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_selector("#connection-status[data-state=open]", timeout=15_000)
                    time.sleep(seconds)
                    page.click("#bottlenecks-refresh")
                    page.click("#allocations-refresh")
                    page.click("#leak-detection-button")
                    page.click("#snapshot-button")
                    for button in ("#leak-detection-button", "#snapshot-button"):
                        expect(page.locator(button)).to_be_enabled(timeout=30_000)
                    time.sleep(1.5)
                    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar back on top
                    output.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(output), full_page=True)
                finally:
                    browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, nargs="?", default=Path("docs/dashboard.png"))
    parser.add_argument("--seconds", type=float, default=75.0, help="let the demo run this long first")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    capture(args.output, seconds=args.seconds, width=args.width, height=args.height)


if __name__ == "__main__":
    main()
