"""Requests per route on /metrics: counts, 5xx errors and the duration histogram, value for value."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from profiling import metrics
from profiling.core.endpoints.requests import HISTOGRAM_BOUNDS, Cumulative
from tests.conftest import make_runtime

REQUESTS = "riptide_http_requests"
ERRORS = "riptide_http_request_errors"
DURATIONS = "riptide_http_request_duration_seconds"
ITEM = "/items/<int:pk>"
LE = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")
PROMTOOL = shutil.which("promtool")


def items_resolver(path: str):
    return (ITEM, "item") if path.startswith("/items/") else None


def tracked_runtime(resolver=items_resolver):
    runtime = make_runtime()
    runtime.endpoints.configure(resolver=resolver)
    return runtime


def scrape(runtime, accept: str = "text/plain") -> str:
    body, _ = metrics.exposition(runtime, accept)
    return body.decode()


def families(text: str, parse=text_string_to_metric_families) -> dict:
    return {family.name: family for family in parse(text)}


def values(found: dict, family: str, sample: str) -> dict[tuple[str, str], float]:
    """{(route, method): value} of one sample name of a family."""
    return {
        (s.labels["route"], s.labels["method"]): s.value for s in found[family].samples if s.name == sample
    }


def buckets(found: dict, route: str, method: str) -> dict[str, float]:
    """{le: cumulative count} of one series of the duration histogram."""
    return {
        s.labels["le"]: s.value
        for s in found[DURATIONS].samples
        if s.name == DURATIONS + "_bucket" and (s.labels["route"], s.labels["method"]) == (route, method)
    }


def cumulative(*counts: int) -> dict[str, float]:
    """The `le` buckets from per-bucket counts (one for each bound and +Inf)."""
    assert len(counts) == len(LE)
    running, found = 0, {}
    for le, count in zip(LE, counts, strict=True):
        running += count
        found[le] = float(running)
    return found


def promtool_check(text: str) -> None:
    if PROMTOOL is None:
        pytest.fail(
            "promtool is not installed: it checks the exposition. Install Debian's package "
            "(apt-get install --no-install-recommends prometheus), as .ci/run does."
        )
    completed = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


# (method, path, status, seconds)
KNOWN = [
    ("GET", "/items/1", 200, 0.004),
    ("GET", "/items/2", 503, 0.02),
    ("GET", "/items/3", 200, 0.3),
    ("POST", "/items/1", 500, 0.005),  # on a bound: counted in that bucket (le is inclusive)
    ("GET", "/nope", 404, 0.05),
    ("DELETE", "/nope/again", 200, 12.0),  # past the last bound: +Inf only
]


def record(runtime, requests) -> None:
    for method, path, status, seconds in requests:
        runtime.endpoints.record(method, path, status, seconds)


def test_the_histogram_bounds_are_the_ones_the_le_labels_name():
    assert tuple(float(le) for le in LE[:-1]) == HISTOGRAM_BOUNDS


def test_requests_errors_buckets_and_sums_per_route_and_method_exactly():
    runtime = tracked_runtime()
    record(runtime, KNOWN)  # not drained: the scrape drains them
    found = families(scrape(runtime))
    assert found[REQUESTS].type == "counter" and found[ERRORS].type == "counter"
    assert found[DURATIONS].type == "histogram"
    assert values(found, REQUESTS, REQUESTS + "_total") == {
        (ITEM, "GET"): 3.0,
        (ITEM, "POST"): 1.0,
        ("unmatched", ""): 2.0,  # every method of the paths no pattern matches
    }
    assert values(found, ERRORS, ERRORS + "_total") == {
        (ITEM, "GET"): 1.0,
        (ITEM, "POST"): 1.0,
        ("unmatched", ""): 0.0,  # a 404 is no error
    }
    assert buckets(found, ITEM, "GET") == cumulative(1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0)
    assert buckets(found, ITEM, "POST") == cumulative(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert buckets(found, "unmatched", "") == cumulative(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1)
    assert values(found, DURATIONS, DURATIONS + "_count") == {
        (ITEM, "GET"): 3.0,
        (ITEM, "POST"): 1.0,
        ("unmatched", ""): 2.0,
    }
    # The durations summed in the order they were recorded, as the log sums them.
    assert values(found, DURATIONS, DURATIONS + "_sum") == {
        (ITEM, "GET"): 0.0 + 0.004 + 0.02 + 0.3,
        (ITEM, "POST"): 0.0 + 0.005,
        ("unmatched", ""): 0.0 + 0.05 + 12.0,
    }
    for name in (REQUESTS, ERRORS, DURATIONS):
        assert "this process" in found[name].documentation


def test_a_later_scrape_counts_on_and_a_repeated_one_counts_nothing_twice():
    runtime = tracked_runtime()
    record(runtime, KNOWN)
    scrape(runtime)
    record(runtime, [("GET", "/items/9", 502, 0.1), ("HEAD", "/items/9", 200, 0.001)])
    for _ in range(2):
        found = families(scrape(runtime))
        assert values(found, REQUESTS, REQUESTS + "_total") == {
            (ITEM, "GET"): 4.0,
            (ITEM, "HEAD"): 1.0,
            (ITEM, "POST"): 1.0,
            ("unmatched", ""): 2.0,
        }
        assert values(found, ERRORS, ERRORS + "_total")[(ITEM, "GET")] == 2.0
        assert buckets(found, ITEM, "GET") == cumulative(1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0)
        assert buckets(found, ITEM, "HEAD") == cumulative(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def test_nothing_about_requests_while_the_tracker_is_off():
    runtime = make_runtime()
    assert not runtime.endpoints.enabled
    record(runtime, KNOWN)
    text = scrape(runtime)
    assert "riptide_http_" not in text
    assert "riptide_profiling_enabled" in text  # the rest is still there


def test_a_tracker_without_requests_has_the_families_and_no_series():
    found = families(scrape(tracked_runtime()))
    for name in (REQUESTS, ERRORS, DURATIONS):
        assert found[name].samples == []


def test_routes_past_the_tables_bound_are_one_other_series():
    runtime = tracked_runtime(resolver=lambda path: (path, None))
    runtime.endpoints.routes.max_routes = 2
    record(runtime, [("GET", f"/r{i}", 200, 0.001) for i in range(5)])
    runtime.endpoints.drain()
    # An id outside the route table (every label taken) is summed with the others too.
    runtime.endpoints.requests.cumulative[10**9] = Cumulative(2, 1, 0.5, [0] * 6 + [2] + [0] * 5)
    found = families(scrape(runtime))
    assert values(found, REQUESTS, REQUESTS + "_total") == {
        ("/r0", "GET"): 1.0,
        ("/r1", "GET"): 1.0,
        ("other", ""): 5.0,
    }
    assert values(found, ERRORS, ERRORS + "_total")[("other", "")] == 1.0
    assert buckets(found, "other", "") == cumulative(3, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0)
    assert values(found, DURATIONS, DURATIONS + "_sum")[("other", "")] == 0.0 + 0.001 + 0.001 + 0.001 + 0.5


def test_openmetrics_exposition_has_the_same_figures():
    runtime = tracked_runtime()
    record(runtime, KNOWN)
    text = scrape(runtime, "application/openmetrics-text; version=1.0.0")
    found = families(text, openmetrics_families)  # its parser checks the histogram's buckets
    assert values(found, REQUESTS, REQUESTS + "_total")[(ITEM, "GET")] == 3.0
    assert values(found, ERRORS, ERRORS + "_total")[(ITEM, "POST")] == 1.0
    assert buckets(found, "unmatched", "") == cumulative(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1)


def test_promtool_accepts_the_exposition():
    runtime = tracked_runtime()
    record(runtime, KNOWN)
    promtool_check(scrape(runtime))


# -- a real server --------------------------------------------------------------------

MEMORY = ("/api/profiling/memory", "GET")
UNMATCHED = ("unmatched", "")


def _figures(text: str) -> dict:
    found = families(text)
    return {
        "requests": values(found, REQUESTS, REQUESTS + "_total"),
        "errors": values(found, ERRORS, ERRORS + "_total"),
        "count": values(found, DURATIONS, DURATIONS + "_count"),
        "inf": {
            (s.labels["route"], s.labels["method"]): s.value
            for s in found[DURATIONS].samples
            if s.name == DURATIONS + "_bucket" and s.labels["le"] == "+Inf"
        },
        "sum": values(found, DURATIONS, DURATIONS + "_sum"),
    }


@pytest.mark.server
def test_a_real_server_counts_every_request_to_a_route_exactly(daphne_server):
    server = daphne_server(env={"PROFILING_RATE_DEFAULT": "1000/h"})
    n, m = 17, 5
    with server.client() as client:

        def read() -> tuple[str, dict]:
            response = client.get("/metrics")
            assert response.status_code == 200, response.text
            return response.text, _figures(response.text)

        _, before = read()

        def was(kind: str, key) -> float:
            return before[kind].get(key, 0.0)

        for _ in range(n):
            assert client.get("/api/profiling/memory").status_code == 200
        for _ in range(m):
            assert client.get("/no/such/page/at/all").status_code == 404
        # A request is recorded when the application returns, a moment after its answer
        # went out: wait until the scrape sees the last one.
        deadline = time.monotonic() + 10
        while True:
            text, after = read()
            seen = (after["requests"].get(MEMORY, 0.0), after["requests"].get(UNMATCHED, 0.0))
            if seen[0] >= was("requests", MEMORY) + n and seen[1] >= was("requests", UNMATCHED) + m:
                break
            assert time.monotonic() < deadline, f"the scrape counts {seen} after {n}, {m} requests"
            time.sleep(0.05)
        time.sleep(0.3)
        text, after = read()  # and no more than those
    for key, sent in ((MEMORY, n), (UNMATCHED, m)):
        assert after["requests"][key] - was("requests", key) == sent, key
        assert after["errors"][key] - was("errors", key) == 0, key
        assert after["count"][key] - was("count", key) == sent, key
        assert after["inf"][key] - was("inf", key) == sent, key
        assert after["sum"][key] > was("sum", key), key
    # The scrapes count too, on the route /metrics answers.
    assert after["requests"][("/metrics", "GET")] >= 2
    promtool_check(text)
