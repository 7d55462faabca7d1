"""The diff flame graph on a real Daphne server: the hot function changes halfway."""

from __future__ import annotations

import time

import pytest

MODULE = "tests.endpoints_asgi"  # served by Daphne; importing it here would start a profiler
PHASE_SECS = 12.0
BUCKET_SECS = 10
HEAVY, LIGHT = f"{MODULE}.heavy_work", f"{MODULE}.light_work"


def _find(node: dict, name: str) -> dict | None:
    if node["name"] == name:
        return node
    for child in node["children"]:
        found = _find(child, name)
        if found is not None:
            return found
    return None


def _drive(server, path: str, secs: float) -> tuple[float, float]:
    started = time.time()
    with server.client() as client:
        while time.time() - started < secs:
            assert client.get(path).status_code == 200
    return started, time.time()


@pytest.mark.server
def test_a_diff_of_two_windows_names_the_function_that_grew_and_the_one_that_shrank(daphne_server):
    server = daphne_server(application=f"{MODULE}:application", env={"PROFILING_SAMPLE_HZ": "47"})
    base_from, base_to = _drive(server, "/ep-test/heavy", PHASE_SECS)
    # The history's 10 s buckets start at multiples of 10 s (a second is filed by its middle):
    # the second phase starts on a bucket boundary at least a second later, so no bucket holds both.
    boundary = (int(base_to + 1.0) // BUCKET_SECS + 1) * BUCKET_SECS
    time.sleep(boundary - time.time())
    new_from, new_to = _drive(server, "/ep-test/light", PHASE_SECS)
    params = {"base_from": base_from, "base_to": base_to, "from": new_from, "to": new_to}
    with server.client() as client:
        deadline = time.monotonic() + 30.0
        while True:  # the history holds a 10 s bucket once it has closed
            answer = client.get("/api/profiling/flamegraph/diff", params=params)
            assert answer.status_code == 200, answer.text + server.log()[-3000:]
            body = answer.json()
            light = _find(body["tree"], LIGHT)
            if light is not None and body["new"]["window_secs"] >= new_to - new_from - 1.0:
                break
            assert time.monotonic() < deadline, body
            time.sleep(1.0)
        iso = client.get(
            "/api/profiling/flamegraph/diff",
            params={**params, "base_from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base_from))},
        )
        only_heavy = client.get(
            "/api/profiling/flamegraph/diff", params={**params, "endpoint": "GET /ep-test/heavy"}
        ).json()
        outside = client.get(
            "/api/profiling/flamegraph/diff", params={**params, "base_from": base_from - 86400 * 2}
        )
        backwards = client.get("/api/profiling/flamegraph/diff", params={**params, "to": new_from - 1})
        garbage = client.get("/api/profiling/flamegraph/diff", params={**params, "from": "yesterday"})
    heavy = _find(body["tree"], HEAVY)
    assert heavy is not None and light is not None, body
    assert heavy["delta_percent"] < -20.0 and light["delta_percent"] > 5.0, (heavy, light)
    assert body["base"]["samples"] > 50 and body["new"]["samples"] > 20, body["base"]
    assert iso.status_code == 200
    # One endpoint's diff: the other route's work is not in it, and its own is gone.
    assert _find(only_heavy["tree"], LIGHT) is None
    assert _find(only_heavy["tree"], HEAVY)["only_in"] == "base"
    assert outside.status_code == 400 and "not inside the profile history" in outside.json()["detail"]
    assert backwards.status_code == 400 and "to" in backwards.json()["errors"]
    assert garbage.status_code == 400 and "from" in garbage.json()["errors"]
