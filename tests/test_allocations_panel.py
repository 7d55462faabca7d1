"""The dashboard's allocations panel asks again when the running window says it ends."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.pages import create_staff_user, log_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.server]

COLLECTING = {
    "timestamp": "2026-11-28T18:00:00.000Z",
    "status": "collecting",
    "collecting": True,
    "retry_after_secs": 2.5,
    "top_allocators": [],
    "size_distribution": None,
    "efficiency_score": 0.9,
    "fragmentation_percent": 10.0,
    "recommendations": ["the first window is collecting: ask again in 2.5 s."],
    "note": None,
}
READY = COLLECTING | {
    "status": "ready",
    "collecting": False,
    "retry_after_secs": None,
    "top_allocators": [["myapp.views.report", 3 * 1048576]],
    "size_distribution": {"small_0_1kb": 10, "medium_1_100kb": 2, "large_100kb_1mb": 1, "huge_1mb_plus": 1},
    "recommendations": ["Biggest allocator in the window: myapp.views.report."],
}


def test_allocations_panel_asks_again_when_the_window_ends(browser, daphne_server):
    server = daphne_server()
    create_staff_user(server)
    asked: list[float] = []

    def allocations(route):
        asked.append(time.monotonic())
        body = COLLECTING if len(asked) == 1 else READY
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page, watch = log_in(browser, server)
    page.route("**/api/profiling/allocations*", allocations)
    page.reload()

    def asked_at_least(count: int) -> bool:
        page.wait_for_timeout(50)  # Playwright runs the route handler only while it is called
        return len(asked) >= count

    wait_until(lambda: asked_at_least(1), "the panel's first request")
    wait_until(lambda: asked_at_least(2), "the panel asking again", timeout=8.0)
    assert 2.3 <= asked[1] - asked[0] <= 4.0
    wait_until(lambda: "myapp.views.report" in page.inner_text("#allocations"), "the ready window shown")
    page.wait_for_timeout(3_000)
    assert len(asked) == 2  # a ready window sets no timer: the next ask is the periodic one
    watch.assert_clean()
