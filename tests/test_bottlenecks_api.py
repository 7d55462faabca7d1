"""GET /api/profiling/bottlenecks and /flamegraph: real sampling of known workloads."""

from __future__ import annotations

import time

import pytest

from profiling.core.stacks.idle import is_idle_function
from tests.conftest import installed_runtime
from tests.stacks_workload import Workers, burn_cpu, churn_garbage, nap, wait_on_queue

MODULE = "tests.stacks_workload"
IDLE_MARKERS = (
    "selectors.",
    "Condition.wait",
    "Event.wait",
    "Queue.get",
    "thread._worker",
    "_run_once",
    "sleep",
)


@pytest.fixture
def stack_profiler():
    """A started runtime whose stack sampler runs at 200 Hz, installed as the process's."""
    with installed_runtime(extra=True, sample_hz=200.0, memory_interval_secs=1.0) as runtime:
        yield runtime


@pytest.fixture
def workers():
    started = Workers()
    yield started
    started.close()


def names(body: dict) -> list[str]:
    return [spot["function_name"] for spot in body["hotspots"]]


def test_bottlenecks_names_the_hot_function_first(stack_profiler, workers, client_with_key):
    workers.start(burn_cpu, workers.stop)
    workers.start(nap, workers.stop)
    workers.start(wait_on_queue, workers.jobs)
    time.sleep(1.5)
    response = client_with_key.get("/api/profiling/bottlenecks?window=10")
    assert response.status_code == 200, response.content
    body = response.json()
    top = body["hotspots"][0]
    assert top["function_name"] == f"{MODULE}.burn_cpu"
    assert top["file_location"] == "tests/stacks_workload.py"
    assert top["line_number"] == burn_cpu.__code__.co_firstlineno
    assert top["cpu_time_percent"] >= 50.0
    assert 0.0 <= top["impact_score"] <= 1.0
    assert top["call_count"] >= 1
    assert f"{MODULE}.nap" not in names(body)
    assert f"{MODULE}.wait_on_queue" not in names(body)
    assert not [n for n in names(body) if any(marker in n for marker in IDLE_MARKERS)]
    assert body["idle_samples"] > 0 and body["busy_samples"] > 0
    assert body["cpu_bound_percent"] + body["io_bound_percent"] + body[
        "memory_bound_percent"
    ] == pytest.approx(100.0, abs=0.05)
    assert body["recommendations"][0].startswith(f"Critical: Optimize {MODULE}.burn_cpu (")

    collapsed = client_with_key.get("/api/profiling/flamegraph?window=10&format=collapsed")
    assert collapsed.status_code == 200
    assert collapsed["Content-Type"].startswith("text/plain")
    lines = collapsed.content.decode().splitlines()
    hot = [line for line in lines if line.rsplit(" ", 1)[0].endswith(f"{MODULE}.burn_cpu")]
    assert hot and int(hot[0].rsplit(" ", 1)[1]) > 0
    assert not [line for line in lines if f"{MODULE}.nap" in line]

    tree = client_with_key.get("/api/profiling/flamegraph?window=10").json()
    assert tree["name"] == "all" and tree["value"] > 0

    def find(node):
        return node["name"] == f"{MODULE}.burn_cpu" or any(find(c) for c in node["children"])

    assert find(tree)


def test_bottlenecks_gc_heavy_workload_is_memory_bound(stack_profiler, workers, client_with_key):
    workers.start(burn_cpu, workers.stop)
    time.sleep(1.5)
    calm = client_with_key.get("/api/profiling/bottlenecks?window=2").json()
    workers.stop.set()
    workers.close()
    churn = Workers()
    try:
        churn.start(churn_garbage, churn.stop)
        time.sleep(2.2)
        busy = client_with_key.get("/api/profiling/bottlenecks?window=2").json()
    finally:
        churn.close()
    assert calm["total_samples"] > 0 and busy["total_samples"] > 0
    assert busy["memory_bound_percent"] > calm["memory_bound_percent"] + 5.0
    assert busy["gc_seconds"] > 0


@pytest.mark.parametrize(
    "query",
    [
        "window=0",
        "window=601",
        "window=abc",
        "window=1.5",
        "limit=0",
        "limit=101",
        "limit=x",
        "scope=none",
        "scope=",
        "window=",
        "limit=",
    ],
)
def test_bottlenecks_bad_parameters_are_400(stack_profiler, client_with_key, query):
    response = client_with_key.get(f"/api/profiling/bottlenecks?{query}")
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "query", ["window=0", "window=601", "format=svg", "format=html", "format=", "window="]
)
def test_flamegraph_bad_parameters_are_400(stack_profiler, client_with_key, query):
    response = client_with_key.get(f"/api/profiling/flamegraph?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_if_scope_is_empty_then_bottlenecks_says_which_parameter(stack_profiler, client_with_key):
    response = client_with_key.get("/api/profiling/bottlenecks?scope=")
    assert response.status_code == 400
    assert "scope" in response.json()["errors"]


def test_if_format_is_empty_then_flamegraph_says_which_parameter(stack_profiler, client_with_key):
    response = client_with_key.get("/api/profiling/flamegraph?format=")
    assert response.status_code == 400
    assert "format" in response.json()["errors"]


def test_bottlenecks_bounds_are_accepted(stack_profiler, client_with_key):
    response = client_with_key.get("/api/profiling/bottlenecks?window=600&limit=100&scope=all")
    assert response.status_code == 200
    assert response.json()["scope"] == "all"
    assert client_with_key.get("/api/profiling/bottlenecks/?window=1&limit=1").status_code == 200


def test_bottlenecks_without_a_stack_sampler_is_503(profiler, client_with_key):
    for path in ("/api/profiling/bottlenecks", "/api/profiling/flamegraph"):
        response = client_with_key.get(path)
        assert response.status_code == 503
        assert "stack sampler" in response.json()["detail"]


def test_bottlenecks_needs_a_key(stack_profiler, anon_client):
    response = anon_client.get("/api/profiling/bottlenecks")
    assert response.status_code == 401


def test_bottlenecks_is_throttled_per_endpoint(stack_profiler, client_with_key, settings):
    settings.PROFILING = {"RATE_DEFAULT": "2/m"}
    assert client_with_key.get("/api/profiling/bottlenecks").status_code == 200
    assert client_with_key.get("/api/profiling/bottlenecks").status_code == 200
    throttled = client_with_key.get("/api/profiling/bottlenecks")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    # the flame graph has its own counter
    assert client_with_key.get("/api/profiling/flamegraph").status_code == 200


@pytest.mark.server
def test_bottlenecks_idle_server_lists_no_wait(daphne_server):
    server = daphne_server(env={"PROFILING_SAMPLE_HZ": "200"})
    time.sleep(1.5)
    with server.client() as client:
        for scope in ("app", "all"):
            response = client.get(f"/api/profiling/bottlenecks?window=10&scope={scope}&limit=100")
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["idle_samples"] > 0
            # An idle server waits nearly all the time, so a wait taken for work would dominate;
            # the loop's brief real work on this test's own requests may show up, but only as a sliver.
            waits = [
                spot
                for spot in body["hotspots"]
                if any(marker in spot["function_name"] for marker in IDLE_MARKERS)
                and spot["wall_time_percent"] >= 5.0
            ]
            assert not waits, body["hotspots"]
        flame = client.get("/api/profiling/flamegraph?format=collapsed&window=10")
        assert flame.status_code == 200
        assert flame.headers["content-type"].startswith("text/plain")
        # Busy stacks only: no wait at a leaf (the selector's modify() when a response is
        # written is real work and may be caught, as in the hotspots above).
        leaves = [line.rsplit(" ", 1)[0].split(";")[-1] for line in flame.text.splitlines() if line]
        assert not [leaf for leaf in leaves if is_idle_function(leaf)], flame.text


@pytest.mark.server
def test_bottlenecks_server_names_the_function_burning_cpu(tmp_path):
    from tests.servers import DaphneServer

    server = DaphneServer(
        tmp_path / "burn", env={"PROFILING_SAMPLE_HZ": "200"}, application="tests.burn_asgi:application"
    )
    with server:
        time.sleep(1.5)
        with server.client() as client:
            body = client.get("/api/profiling/bottlenecks?window=10").json()
            collapsed = client.get("/api/profiling/flamegraph?window=10&format=collapsed").text
    top = body["hotspots"][0]
    assert (top["function_name"], top["file_location"], top["line_number"]) == (
        f"{MODULE}.burn_cpu",
        "tests/stacks_workload.py",
        burn_cpu.__code__.co_firstlineno,
    )
    assert top["cpu_time_percent"] >= 50.0
    assert any(line.rsplit(" ", 1)[0].endswith(f"{MODULE}.burn_cpu") for line in collapsed.splitlines())
