"""The dashboard end to end: a real Daphne server, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from tests.browser.pages import create_staff_user, log_in, points, wait_until
from tests.test_dashboard_views import SPEC_IDS

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def server(daphne_server):
    server = daphne_server(env={"PROFILING_MEMORY_INTERVAL_SECS": "0.5"})
    create_staff_user(server)
    return server


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
    for element_id in SPEC_IDS:
        assert page.locator(f"#{element_id}").count() == 1

    watch.assert_clean()

    server.stop()
    page.wait_for_selector("#connection-status[data-state=closed]")
    server.start()
    page.wait_for_selector("#connection-status[data-state=open]", timeout=30_000)
    wait_until(lambda: points(page, "memory-chart") >= 2, "the memory chart after the restart")
    # While the server was down the browser logged its refused reconnection attempts (and
    # any panel refresh that fell into that time).
    refused = [e for e in watch.errors if "ERR_CONNECTION_REFUSED" in e]
    assert any("/ws/profiling/live/" in e for e in refused)
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
