"""Short sync views, each run in a thread of its own, are seen at the default sample rate (real Daphne)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from profiling.core.config import ProfilingConfig
from tests.servers import ROOT

MODULE = "tests.stacks_short_asgi"  # served by Daphne; importing it here would start a profiler
WORK_LINE = next(
    number
    for number, line in enumerate((ROOT / "tests/stacks_short_asgi.py").read_text().splitlines(), start=1)
    if line.startswith("def short_request_work(")
)
VIEW_MS = 5
REQUESTS = 1000
CLIENTS = 4


@pytest.mark.server
def test_short_requests_in_fresh_threads_are_the_top_hotspot_at_the_default_rate(daphne_server):
    """Django's ASGI handler runs each of these views in a new thread that lives a few ms."""
    server = daphne_server(application=f"{MODULE}:application")
    with server.client() as client:
        for _ in range(20):  # imports and first-request work, before the measured window
            assert client.get(f"/stacks-test/short?ms={VIEW_MS}").status_code == 200
        time.sleep(2.0)
        before = client.get("/stacks-test/cpu").json()
        started = time.monotonic()

        def hit(count: int) -> None:
            with server.client() as own:
                for _ in range(count):
                    assert own.get(f"/stacks-test/short?ms={VIEW_MS}").status_code == 200

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(hit, [REQUESTS // CLIENTS] * CLIENTS))
        took = time.monotonic() - started
        after = client.get("/stacks-test/cpu").json()
        body = client.get(f"/api/profiling/bottlenecks?window={int(took) + 1}").json()
    assert body["sample_hz"] == ProfilingConfig().sample_hz  # the default, nothing raised
    assert body["total_samples"] == (
        body["busy_samples"] + body["idle_samples"] + body["unmeasured_samples"] + body["discarded_samples"]
    )
    top = body["hotspots"][0]
    assert (top["function_name"], top["file_location"], top["line_number"]) == (
        f"{MODULE}.short_request_work",
        "tests/stacks_short_asgi.py",
        WORK_LINE,
    ), body["hotspots"]
    # Its share of the CPU lies between its share of every sampled thread's CPU (the
    # profiler's own threads are never sampled) and its share of the request threads' CPU:
    # the event loop's own scheduling (`_run_once`, its selector) counts as idle waiting,
    # and so does some of a request thread's own (its executor's `_worker`): 10 points.
    work = after["cpu_secs"] - before["cpu_secs"]
    sampled = (after["process_cpu_secs"] - before["process_cpu_secs"]) - (
        after["profiler_cpu_secs"] - before["profiler_cpu_secs"]
    )
    loop = after["main_thread_cpu_secs"] - before["main_thread_cpu_secs"]
    of_all, of_requests = 100.0 * work / sampled, 100.0 * work / (sampled - loop)
    assert of_all - 5.0 <= top["cpu_time_percent"] <= of_requests + 10.0, (top, of_all, of_requests)
    assert top["samples"] >= 40
