"""The dashboard end to end: a real Daphne server, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, MISSING_MESSAGE

pytestmark = [pytest.mark.browser, pytest.mark.server]

USERNAME, PASSWORD = "e2e-staff", "e2e-password-not-secret"


class PageWatch:
    """Record console errors, page errors and every request the page makes."""

    def __init__(self, page, base_url: str):
        self.origin = urlsplit(base_url).netloc
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        self.errors.append(f"console error: {message.text} ({url})")

    def _request(self, request) -> None:
        if urlsplit(request.url).netloc != self.origin:
            self.foreign.append(request.url)

    def assert_clean(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.errors, "\n".join(self.errors)


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


@pytest.fixture
def server(daphne_server):
    server = daphne_server(env={"PROFILING_MEMORY_INTERVAL_SECS": "0.5"})
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({USERNAME!r}, password={PASSWORD!r}, is_staff=True)",
    )
    return server


def log_in(browser, server):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(15_000)
    watch = PageWatch(page, server.base_url)
    page.goto(server.base_url + "/")
    assert urlsplit(page.url).path == "/accounts/login/"
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.base_url + "/")
    return page, watch


def points(page, chart_id: str) -> int:
    return page.evaluate(f"document.getElementById({chart_id!r}).data[0].x.length")


def wait_until(condition, what: str, timeout: float = 15.0) -> None:
    """Poll `condition()` from Python: the page's CSP forbids the eval behind wait_for_function."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def test_dashboard_charts_gain_points_live_and_feed_reconnects_after_restart(browser, server):
    page, watch = log_in(browser, server)
    page.wait_for_selector("#connection-status[data-state=open]")
    wait_until(lambda: points(page, "memory-chart") >= 2, "the history in the memory chart")
    before = {chart: points(page, chart) for chart in ("memory-chart", "cpu-chart")}
    wait_until(
        lambda: all(points(page, chart) >= count + 3 for chart, count in before.items()),
        "three new points in both charts",
    )
    assert page.get_attribute("#status-badge", "data-status") == "normal"
    rss = page.evaluate("document.getElementById('memory-chart').data[0].y.slice(-1)[0]")
    assert rss > 10  # MB, measured in the server process
    for element_id in (
        "leak-detection-button",
        "leak-report",
        "snapshot-button",
        "snapshot-result",
        "bottlenecks",
        "allocations",
    ):
        assert page.locator(f"#{element_id}").count() == 1

    watch.assert_clean()

    server.stop()
    page.wait_for_selector("#connection-status[data-state=closed]")
    server.start()
    page.wait_for_selector("#connection-status[data-state=open]", timeout=30_000)
    wait_until(lambda: points(page, "memory-chart") >= 2, "the memory chart after the restart")
    # While the server was down the browser logged its refused reconnection attempts.
    refused = [e for e in watch.errors if "/ws/profiling/live/" in e and "ERR_CONNECTION_REFUSED" in e]
    assert refused
    watch.errors = [e for e in watch.errors if e not in refused]
    watch.assert_clean()


def test_dashboard_buttons_run_leak_detection_and_download_a_snapshot(browser, server, tmp_path):
    page, watch = log_in(browser, server)
    page.wait_for_selector("#connection-status[data-state=open]")

    page.click("#leak-detection-button")
    expect(page.locator("#leak-detection-button")).to_be_enabled(timeout=30_000)
    report = page.inner_text("#leak-report")
    assert "not available" not in report and "failed" not in report, report
    assert "Analysed at" in report

    page.click("#snapshot-button")
    link = page.wait_for_selector("#snapshot-result a[href]")
    href = link.get_attribute("href")
    assert href.startswith("/api/profiling/snapshot/") and href.endswith("/download")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    saved = tmp_path / "snapshot.json"
    download.save_as(saved)
    snapshot = json.loads(saved.read_text())
    assert isinstance(snapshot, dict) and snapshot
    # The page's own fetches of the analysis views succeeded as well.
    time.sleep(0.5)
    for view in ("bottlenecks", "allocations"):
        assert "not available" not in page.inner_text(f"#{view}")
    watch.assert_clean()
