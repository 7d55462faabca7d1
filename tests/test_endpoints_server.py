"""Per-route attribution on a real Daphne server: a known CPU split over three routes."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

MODULE = "tests.endpoints_asgi"  # served by Daphne; importing it here would start a profiler
ROUNDS = 120
SPLIT = ("heavy", "medium", "light")
WORK = {name: f"{MODULE}.{name}_work" for name in SPLIT}


def _names(node: dict) -> set[str]:
    names = {node["name"]}
    for child in node["children"]:
        names |= _names(child)
    return names


@pytest.mark.server
def test_endpoints_report_reads_a_planted_split_by_route_and_filters_the_flame_graph(daphne_server):
    server = daphne_server(application=f"{MODULE}:application", env={"PROFILING_SAMPLE_HZ": "47"})
    with server.client() as client:
        for name in (*SPLIT, "sleep"):  # first-request work, before the measured window
            assert client.get(f"/ep-test/{name}").status_code == 200
        time.sleep(1.0)
        before = client.get("/ep-test/truth").json()
        started = time.monotonic()

        def hit(rounds: int) -> None:
            with server.client() as own:
                for _ in range(rounds):
                    for name in SPLIT:
                        assert own.get(f"/ep-test/{name}").status_code == 200
                    assert own.get("/ep-test/sleep").status_code == 200
                    assert own.get("/ep-test/fail").status_code == 500

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(hit, [ROUNDS // 2] * 2))
        window = int(time.monotonic() - started) + 6
        after = client.get("/ep-test/truth").json()
        report = client.get(f"/api/profiling/endpoints?window={window}&limit=50").json()
        since_start = client.get("/api/profiling/endpoints?window=600&limit=50").json()
        heavy_flame = client.get(
            "/api/profiling/flamegraph", params={"window": window, "endpoint": "GET /ep-test/heavy"}
        )
        heavy_spots = client.get(
            "/api/profiling/bottlenecks", params={"window": window, "endpoint": "GET /ep-test/heavy"}
        )
        unknown = client.get("/api/profiling/bottlenecks", params={"endpoint": "GET /no/such/route"})
        all_flame = client.get(f"/api/profiling/flamegraph?window={window}").json()

    rows = {row["endpoint"]: row for row in report["endpoints"]}
    routes = {name: rows[f"GET /ep-test/{name}"] for name in (*SPLIT, "sleep", "fail")}
    counted = {row["endpoint"]: row["requests"] for row in since_start["endpoints"]}
    for name, row in routes.items():
        # Every request of the server's life: the measured ones, and one first request (not to fail).
        assert counted[f"GET /ep-test/{name}"] == ROUNDS + (name != "fail"), (name, counted)
        assert row["route"] == f"/ep-test/{name}" and row["method"] == "GET" and row["name"] == f"ep-{name}"
    assert routes["fail"]["errors"] == ROUNDS and all(routes[n]["errors"] == 0 for n in (*SPLIT, "sleep"))
    # The latency sketch is within 1 %; a 40 ms sleep takes at least 40 ms.
    assert routes["sleep"]["latency_ms"]["p50"] >= 40.0 * 0.99, routes["sleep"]
    assert routes["heavy"]["latency_ms"]["p50"] >= 30.0 * 0.99, routes["heavy"]

    truth = {name: after[name] - before[name] for name in SPLIT}
    true_share = {name: 100.0 * truth[name] / sum(truth.values()) for name in SPLIT}
    cpu = {name: routes[name]["cpu_time_percent"] for name in SPLIT}
    measured = {name: 100.0 * cpu[name] / sum(cpu.values()) for name in SPLIT}
    detail = json.dumps({"true": true_share, "measured": measured, "report": report["endpoints"][:8]})
    for name in SPLIT:
        assert abs(measured[name] - true_share[name]) <= 5.0, detail
        # Each route's top hotspot is its own work function (sync views in threads, the async one on the loop).
        assert routes[name]["hotspots"][0]["function_name"] == WORK[name], detail
    # The sleeping route is off the CPU: a sleep is a wait (idle samples), its CPU almost none.
    assert routes["sleep"]["cpu_time_percent"] <= 2.0, detail
    assert routes["sleep"]["cpu_ms_per_request"] <= 2.0, detail
    # Its CPU per request is close to the planted work (sampled: within a third).
    assert 20.0 <= routes["heavy"]["cpu_ms_per_request"] <= 40.0, detail
    assert report["endpoints"][0]["endpoint"] in {"GET /ep-test/heavy", "GET /ep-test/sleep"}, detail

    assert heavy_flame.status_code == 200 and heavy_spots.status_code == 200
    names = _names(heavy_flame.json())
    assert WORK["heavy"] in names and not names & {WORK["medium"], WORK["light"]}, names
    assert heavy_spots.json()["hotspots"][0]["function_name"] == WORK["heavy"]
    assert unknown.status_code == 400 and "endpoint" in unknown.json()["detail"]
    # Without ?endpoint= the flame graph holds every route's frames and no route labels.
    every = _names(all_flame)
    assert set(WORK.values()) <= every and "GET /ep-test/heavy" not in every
