"""The endpoints panel end to end: the routes a real Daphne server served, one chosen narrows
the bottlenecks and the flame graph to it."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.pages import create_staff_user, log_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.server]

MEMORY_PATH, CPU_PATH = "/api/profiling/memory", "/api/profiling/cpu"
MEMORY_REQUESTS, CPU_REQUESTS = 6, 3


@pytest.fixture
def server(daphne_server):
    server = daphne_server(env={"PROFILING_MEMORY_INTERVAL_SECS": "0.5", "PROFILING_RATE_DEFAULT": "1000/h"})
    create_staff_user(server)
    return server


def endpoint_of(request) -> str | None:
    """The `endpoint` a request of the page asked about, or None for all endpoints."""
    return parse_qs(urlsplit(request.url).query).get("endpoint", [None])[0]


def asks(view: str, *, narrowed: bool | None = None):
    """A predicate for page.expect_request: a call of /api/profiling/<view>, narrowed or not."""

    def predicate(request) -> bool:
        if urlsplit(request.url).path != f"/api/profiling/{view}":
            return False
        return narrowed is None or (endpoint_of(request) is not None) == narrowed

    return predicate


def row(page, endpoint: str):
    return page.locator(f'#endpoints tr[data-endpoint="{endpoint}"]')


def listed(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('#endpoints tr[data-endpoint]')).map(tr => tr.dataset.endpoint)"
    )


def route_of(path: str, listed_ids: list[str]) -> str | None:
    """The listed endpoint id of GET `path`: its route, with a regex route's optional slash and end."""
    for endpoint in listed_ids:
        method, _, route = endpoint.partition(" ")
        if method == "GET" and route.removesuffix("$").removesuffix("?").removesuffix("/") == path:
            return endpoint
    return None


def listed_with_requests(page, path: str, at_least: int) -> str | None:
    """The id of the row of GET `path` once it counts `at_least` requests, else None."""
    endpoint = route_of(path, listed(page))
    if endpoint is None:
        return None
    cells = row(page, endpoint).locator("td").all_inner_texts()
    return endpoint if len(cells) > 1 and cells[1].isdigit() and int(cells[1]) >= at_least else None


def selected(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('#endpoints tr[aria-selected=true]')).map(tr => tr.dataset.endpoint)"
    )


def summary(page) -> str:
    return page.inner_text("#bottlenecks-summary")


def test_endpoints_panel_lists_the_served_routes_and_narrows_the_bottlenecks_to_one(browser, server):
    with server.client() as client:
        for path, times in ((MEMORY_PATH, MEMORY_REQUESTS), (CPU_PATH, CPU_REQUESTS)):
            for _ in range(times):
                assert client.get(path).status_code == 200

    page, watch = log_in(browser, server)
    wait_until(
        lambda: listed_with_requests(page, MEMORY_PATH, MEMORY_REQUESTS), "the memory view's row", timeout=30
    )
    wait_until(lambda: listed_with_requests(page, CPU_PATH, CPU_REQUESTS), "the CPU view's row", timeout=30)
    memory, cpu = route_of(MEMORY_PATH, listed(page)), route_of(CPU_PATH, listed(page))
    assert "not available" not in page.inner_text("#endpoints")

    # The rows come in the API's order (busiest first), one for each endpoint it answered.
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/profiling/endpoints") as answer:
        page.click("#endpoints-refresh")
    order = [entry["endpoint"] for entry in json.loads(answer.value.text())["endpoints"]]
    wait_until(lambda: listed(page) == order, "the rows in the API's order")

    # A click narrows both views to that endpoint, and the summary names it.
    with (
        page.expect_request(asks("flamegraph", narrowed=True)) as flame,
        page.expect_request(asks("bottlenecks", narrowed=True)) as hotspots,
    ):
        row(page, memory).click()
    assert endpoint_of(flame.value) == memory and endpoint_of(hotspots.value) == memory
    assert parse_qs(urlsplit(flame.value.url).query)["format"] == ["json"]
    wait_until(
        lambda: summary(page).startswith(memory + " · ") and "loading" not in summary(page), "the summary"
    )
    assert selected(page) == [memory]
    expect(page.locator("#endpoints-clear")).to_be_visible()
    assert "failed" not in page.inner_text("#bottlenecks")

    # The periodic refresh rebuilds the rows and asks again: still about the chosen endpoint.
    with (
        page.expect_request(asks("bottlenecks"), timeout=15_000) as again,
        page.expect_response(lambda r: urlsplit(r.url).path == "/api/profiling/endpoints", timeout=15_000),
    ):
        pass
    assert endpoint_of(again.value) == memory
    wait_until(lambda: selected(page) == [memory], "the chosen row still marked after the refresh")
    assert summary(page).startswith(memory)

    # The keyboard: Enter on another row chooses it, Enter again goes back to all endpoints.
    row(page, cpu).focus()
    with page.expect_request(asks("flamegraph", narrowed=True)) as flame:
        page.keyboard.press("Enter")
    assert endpoint_of(flame.value) == cpu
    wait_until(lambda: selected(page) == [cpu], "the CPU row chosen")
    wait_until(lambda: summary(page).startswith(cpu + " · "), "the summary naming the CPU endpoint")
    with page.expect_request(asks("flamegraph", narrowed=False)):
        page.keyboard.press("Enter")
    wait_until(lambda: selected(page) == [], "no row chosen")
    expect(page.locator("#endpoints-clear")).to_be_hidden()
    wait_until(lambda: "loading" not in summary(page), "the summary of all endpoints")
    assert cpu not in summary(page)

    # The "All endpoints" button goes back as well.
    row(page, memory).click()
    wait_until(lambda: selected(page) == [memory], "the memory row chosen again")
    with page.expect_request(asks("bottlenecks", narrowed=False)):
        page.click("#endpoints-clear")
    wait_until(lambda: selected(page) == [], "no row chosen after All endpoints")
    assert memory not in summary(page)
    watch.assert_clean()


def test_endpoints_panel_says_so_on_a_server_without_the_endpoints_api(browser, server):
    page, watch = log_in(browser, server)
    calls = []

    def missing(route) -> None:
        calls.append(route.request.url)
        route.fulfill(status=404, content_type="application/json", body='{"detail": "Not found."}')

    page.route(lambda url: urlsplit(url).path == "/api/profiling/endpoints", missing)
    page.reload()
    expect(page.locator("#endpoints-table .notice")).to_contain_text(
        "Per-endpoint profiling is not available on this server yet (HTTP 404)."
    )
    # The rest of the page carries on, and the timer stops asking for what is not there.
    with page.expect_request(asks("bottlenecks", narrowed=False), timeout=15_000):
        pass
    assert len(calls) == 1, calls
    assert page.locator("#endpoints tr[data-endpoint]").count() == 0
    expect(page.locator("#endpoints-clear")).to_be_hidden()
    # The browser logs the 404 it was answered; nothing else may go wrong.
    watch.errors = [e for e in watch.errors if not ("status of 404" in e and "/api/profiling/endpoints" in e)]
    watch.assert_clean()
