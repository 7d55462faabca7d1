"""The Compare card end to end: two windows dragged out on the charts' time axis, the flame
graph diff of a real Daphne server where one function was hot in the first and another in
the second."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.pages import create_staff_user, log_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.server]

MODULE = "tests.endpoints_asgi"  # served by Daphne; importing it here would start a profiler
HEAVY, LIGHT = f"{MODULE}.heavy_work", f"{MODULE}.light_work"
PHASE_SECS = 12.0
BUCKET_SECS = 10.0  # the profile history's newest buckets
DIFF_PATH = "/api/profiling/flamegraph/diff"


@pytest.fixture
def server(daphne_server):
    server = daphne_server(
        application=f"{MODULE}:application",
        env={
            "PROFILING_SAMPLE_HZ": "47",
            "PROFILING_MEMORY_INTERVAL_SECS": "1",
            "PROFILING_RATE_DEFAULT": "1000/h",
        },
    )
    create_staff_user(server)
    return server


def drive(server, name: str, secs: float) -> tuple[float, float]:
    """Two threads asking for /ep-test/<name> for `secs`; its (start, end) in unix seconds."""
    started = time.time()
    end = time.monotonic() + secs

    def hit() -> None:
        with server.client() as client:
            while time.monotonic() < end:
                assert client.get(f"/ep-test/{name}").status_code == 200

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(hit) for _ in range(2)]:
            future.result()
    return started, time.time()


def chart_point(page, chart_id: str, seconds: float) -> tuple[float, float]:
    """Where unix time `seconds` is on a time chart's x axis, half way up its main plot (page pixels).

    Plotly's date axis holds local wall-clock times, as the dashboard plots them.
    """
    return page.evaluate(
        """([id, seconds]) => {
            const gd = document.getElementById(id);
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const d = new Date(seconds * 1000);
            const wall = Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(),
                d.getSeconds(), d.getMilliseconds());
            const box = gd.getBoundingClientRect();
            return [box.left + xa._offset + xa.l2p(wall), box.top + ya._offset + ya._length / 2];
        }""",
        [chart_id, seconds],
    )


def drag(page, chart_id: str, start: float, end: float) -> None:
    """A real mouse drag across a time chart from unix time `start` to `end`."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    (x0, y), (x1, _) = chart_point(page, chart_id, start), chart_point(page, chart_id, end)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y + 3, steps=5)
    page.mouse.move(x1, y, steps=5)
    page.mouse.up()


def diff_nodes(page) -> list[dict]:
    """The diff chart's nodes as drawn: name, trend, only_in, shares, delta, label and colour."""
    return page.evaluate(
        """() => {
            const trace = document.getElementById('diff-chart').data[0];
            return trace.customdata.map((c, i) => ({name: c[0], trend: c[1], only_in: c[2], base_share: c[3],
                share: c[4], delta: c[5], label: trace.labels[i], color: trace.marker.colors[i],
                pattern: trace.marker.pattern.shape[i]}));
        }"""
    )


def rgb(color: str) -> tuple[int, int, int]:
    assert color.startswith("rgb(") and color.endswith(")"), color
    red, green, blue = (int(part) for part in color[4:-1].split(","))
    return red, green, blue


def window_shapes(page, chart_id: str) -> list[str]:
    return page.evaluate(
        f"(document.getElementById({chart_id!r}).layout.shapes || [])"
        ".filter(s => (s.name || '').startsWith('diff-')).map(s => s.name)"
    )


def drawn(page) -> bool:
    return page.evaluate("(document.getElementById('diff-chart').data || []).length > 0")


def test_compare_two_windows_shows_the_function_hot_in_each_as_less_and_more(browser, server):
    page, watch = log_in(browser, server)
    page.wait_for_selector("#connection-status[data-state=open]")
    with server.client() as client:  # first-request work, before the measured phases
        for name in ("heavy", "light"):
            assert client.get(f"/ep-test/{name}").status_code == 200
    heavy = drive(server, "heavy", PHASE_SECS)
    light = drive(server, "light", PHASE_SECS)
    time.sleep(BUCKET_SECS + 2.0)  # the buckets of the light phase close
    base_window, new_window = (heavy[0] + 1.0, heavy[1] - 1.0), (light[0] + 1.0, light[1] - 1.0)

    expect(page.locator("#diff-clear")).to_be_hidden()
    page.click("#diff-pick")
    expect(page.locator("#diff-pick")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#diff-windows")).to_contain_text("first window")
    # The second window first, on the CPU chart; the earlier one, on the memory chart, is the base all the same.
    drag(page, "cpu-chart", *new_window)
    expect(page.locator("#diff-windows")).to_contain_text("second window")
    assert window_shapes(page, "cpu-chart") == ["diff-base"]  # shaded while the next is picked
    with page.expect_response(lambda r: urlsplit(r.url).path == DIFF_PATH) as answer:
        drag(page, "memory-chart", *base_window)
    assert answer.value.status == 200, answer.value.text()
    query = {key: float(values[0]) for key, values in parse_qs(urlsplit(answer.value.url).query).items()}
    assert set(query) == {"base_from", "base_to", "from", "to"}, query
    # The windows asked for are the ones dragged: to a whole second (rounded outwards), a
    # pixel of the axis, and the live axis moving on while the drag runs on a loaded machine.
    for key, wanted in zip(("base_from", "base_to", "from", "to"), (*base_window, *new_window), strict=True):
        assert abs(query[key] - wanted) <= 2.0, (key, query, base_window, new_window)
    expect(page.locator("#diff-pick")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#diff-windows")).to_contain_text("→")
    expect(page.locator("#diff-clear")).to_be_visible()
    for chart in ("memory-chart", "cpu-chart"):
        assert sorted(window_shapes(page, chart)) == ["diff-base", "diff-new"], chart

    wait_until(lambda: drawn(page), "the diff chart")
    expect(page.locator("#diff-legend")).to_be_visible()
    assert page.inner_text("#diff-message") == ""
    nodes = diff_nodes(page)
    detail = json.dumps({"answer": json.loads(answer.value.text())["tree"], "drawn": nodes})[:6000]

    def main(name: str) -> dict:
        found = [node for node in nodes if node["name"] == name]
        assert found, detail
        return max(found, key=lambda node: node["base_share"] + node["share"])

    heavy_node, light_node = main(HEAVY), main(LIGHT)
    assert heavy_node["trend"] == "less" and heavy_node["delta"] < -5.0, detail
    assert light_node["trend"] == "more" and light_node["delta"] > 5.0, detail
    red, green, _ = rgb(heavy_node["color"])
    assert green > red + 40, ("heavy_work is not green", heavy_node)
    red, green, _ = rgb(light_node["color"])
    assert red > green + 40, ("light_work is not red", light_node)
    root = nodes[0]
    assert root["name"] == "all" and root["trend"] == "same" and root["color"] == "rgb(229,231,235)", root
    # A frame of one window only is marked: a suffix and hatching.
    for node in nodes:
        suffix = {"base": " (gone)", "new": " (new)", "": ""}[node["only_in"]]
        assert node["label"] == node["name"] + suffix, node
        assert node["pattern"] == ("/" if node["only_in"] else ""), node
    summary = page.inner_text("#diff-summary")
    assert "base " in summary and "new " in summary and "samples" in summary, summary

    # The table of the biggest changes in own time: both work functions, each with its trend;
    # picking one zooms the chart to it, under its callers.
    trends = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#diff-table tr[data-function]'))"
        ".map(tr => [tr.dataset.function, tr.dataset.trend]))"
    )
    assert trends.get(HEAVY) == "less" and trends.get(LIGHT) == "more", trends
    page.locator(f'#diff-table tr[data-function="{HEAVY}"]').click()
    wait_until(
        lambda: page.evaluate("document.getElementById('diff-chart').data[0].level || ''"), "the chart zoomed"
    )
    level = page.evaluate("document.getElementById('diff-chart').data[0].level")
    ids = page.evaluate("document.getElementById('diff-chart').data[0].ids")
    assert any(i.startswith(level + "#") and i.endswith("/" + HEAVY) for i in ids), level

    # An endpoint chosen in the Endpoints card narrows the diff of the same windows to it.
    light_route = page.locator('#endpoints tr[data-endpoint="GET /ep-test/light"]')
    with page.expect_response(
        lambda r: urlsplit(r.url).path == DIFF_PATH and "endpoint" in parse_qs(urlsplit(r.url).query)
    ) as narrowed:
        light_route.click()
    assert narrowed.value.status == 200, narrowed.value.text()
    narrowed_query = parse_qs(urlsplit(narrowed.value.url).query)
    assert narrowed_query.pop("endpoint") == ["GET /ep-test/light"]
    assert {key: float(values[0]) for key, values in narrowed_query.items()} == query
    wait_until(
        lambda: page.inner_text("#diff-summary").startswith("GET /ep-test/light · base "), "the narrowed diff"
    )

    # Clear forgets both windows: no shading, no chart.
    page.click("#diff-clear")
    expect(page.locator("#diff-clear")).to_be_hidden()
    wait_until(lambda: not drawn(page), "the diff chart cleared")
    for chart in ("memory-chart", "cpu-chart"):
        assert window_shapes(page, chart) == [], chart
    watch.assert_clean()


@pytest.fixture
def plain_server(daphne_server):
    server = daphne_server(env={"PROFILING_MEMORY_INTERVAL_SECS": "0.5", "PROFILING_RATE_DEFAULT": "1000/h"})
    create_staff_user(server)
    return server


def pick_two(page, since: float) -> None:
    """Drag out two windows between `since` and now on the CPU chart."""
    now = time.time()
    third = (now - since) / 3
    page.click("#diff-pick")
    drag(page, "cpu-chart", since + 0.2 * third, since + third)
    expect(page.locator("#diff-windows")).to_contain_text("second window")
    drag(page, "cpu-chart", since + 2 * third, now - 0.2 * third)


def test_compare_says_why_when_the_server_cannot_answer(browser, plain_server):
    page, watch = log_in(browser, plain_server)
    page.wait_for_selector("#connection-status[data-state=open]")
    since = time.time()
    time.sleep(4.0)
    answers = [
        (404, {"detail": "Not found."}),
        (400, {"detail": "The window A .. B is not inside the profile history, which holds C .. D."}),
    ]
    calls = []

    def fake(route) -> None:
        status, body = answers[len(calls)]
        calls.append(route.request.url)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    page.route(lambda url: urlsplit(url).path == DIFF_PATH, fake)
    # A server without the diff API: a notice, not an exception.
    pick_two(page, since)
    expect(page.locator("#diff-message .notice")).to_contain_text(
        "Comparing two windows is not available on this server yet (HTTP 404)."
    )
    assert not drawn(page)
    # A window the profile history does not hold: the API's own words.
    pick_two(page, since)
    expect(page.locator("#diff-message .notice")).to_have_text(answers[1][1]["detail"])
    assert len(calls) == 2, calls
    # The browser logs the answers' statuses; nothing else may go wrong.
    watch.errors = [
        e for e in watch.errors if not (DIFF_PATH in e and ("status of 404" in e or "status of 400" in e))
    ]
    watch.assert_clean()
