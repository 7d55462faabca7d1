"""One dashboard, two real Daphne processes on PostgreSQL and Redis: both instances live."""

from __future__ import annotations

import socket

import pytest

from tests.browser.pages import create_staff_user, log_in, wait_until
from tests.multi import two_servers

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def cluster(daphne_server):
    env = {
        "PROFILING_MEMORY_INTERVAL_SECS": "0.5",
        "PROFILING_RATE_DEFAULT": "1000/h",
        "PROFILING_RATE_LEAK_DETECTION": "100/h",
    }
    with two_servers(daphne_server, env) as (first, second):
        create_staff_user(first)
        yield first, second


def name_of(server) -> str:
    return f"{socket.gethostname()}:{server.process.pid}"


def listed(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#instance-list li[data-instance]'))"
        ".map(li => [li.dataset.instance, li.dataset.state]))"
    )


def trace_names(page, chart_id: str) -> list[str]:
    return page.evaluate(f"document.getElementById({chart_id!r}).data.map(t => t.name)")


def test_one_dashboard_shows_both_instances_runs_leak_detection_in_the_other_and_marks_it_gone(
    browser, cluster
):
    first, second = cluster
    own, other = name_of(first), name_of(second)
    page, watch = log_in(browser, first)
    page.wait_for_selector("#connection-status[data-state=open]")
    wait_until(lambda: listed(page) == {own: "live", other: "live"}, "both instances listed live")

    # All instances side by side: one RSS line and one CPU line per instance, both growing.
    page.select_option("#instance-select", "")
    wait_until(lambda: len(trace_names(page, "memory-chart")) == 2, "two lines in the memory chart")
    assert trace_names(page, "memory-chart") == sorted([f"{own} (this server)", other])
    assert len(trace_names(page, "cpu-chart")) == 2
    counts = page.evaluate("document.getElementById('memory-chart').data.map(t => t.x.length)")
    wait_until(
        lambda: all(
            now >= before + 2
            for now, before in zip(
                page.evaluate("document.getElementById('memory-chart').data.map(t => t.x.length)"),
                counts,
                strict=True,
            )
        ),
        "new points on both instances' lines",
    )
    assert page.get_attribute("#status-badge", "data-status") == "normal"

    # The other instance alone: its own charts, and leak detection runs there.
    page.select_option("#instance-select", other)
    wait_until(
        lambda: page.evaluate("document.getElementById('memory-chart').data.length") == 3, "the detail view"
    )
    page.click("#leak-detection-button")
    wait_until(lambda: f"in {other}." in page.inner_text("#leak-report"), "the other instance's leak report")

    # Back to this server, then the other process ends: it is marked gone, not dropped.
    page.select_option("#instance-select", own)
    second.stop()
    wait_until(
        lambda: listed(page) == {own: "live", other: "gone"}, "the stopped instance marked gone", timeout=20
    )
    assert "(gone)" in page.inner_text("#instance-select")
    watch.assert_clean()
