"""Profiling overhead under multi-worker servers: gunicorn with 4 sync workers, uvicorn --workers 2.

The project is served twice side by side, profiling off (ENABLE_PROFILING=false) and with
default settings, each by the same server with the same workers (no Redis: each worker
profiles itself). Every round loads both services at once, a load generator process each,
so both run under the same machine conditions; per round and service, the CPU seconds of
the master and all its workers per request, and the requests per second. The figure is
the mean of the per-round ratios default / off with a 95 % interval. Per worker: the CPU
per request of each worker process is not attributable without per-worker request counts,
so the per-worker figure given is the whole service's CPU spread over its workers.
"""

from __future__ import annotations

import statistics
import time

from bench.common import Row
from bench.harness import load, worker_services
from bench.overhead import (
    OVERHEAD_BAR,
    WORKLOAD,
    busy_round,
    fmt_interval,
    mean_interval,
    ratios,
    wait_for_budget,
)

ARMS = {"off": {"ENABLE_PROFILING": "false"}, "default": {}}
SERVERS = {"gunicorn": 4, "uvicorn": 2}


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    for kind, workers in SERVERS.items():
        rows.extend(run_server(kind, workers, quick))
    return rows


def run_server(kind: str, workers: int, quick: bool) -> list[Row]:
    busy_secs = 25.0 if quick else 120.0
    min_rounds = 3 if quick else 10
    results: dict[str, list[dict]] = {name: [] for name in ARMS}
    connections = 2 * workers
    launched = time.monotonic()
    with worker_services(ARMS, kind, workers) as running:
        for service in running.values():  # warm up every worker: imports, caches, connections
            load(service, WORKLOAD, 100 * workers, connections=connections)
        wait_for_budget(launched)
        started = time.monotonic()
        while len(results["off"]) < min_rounds or time.monotonic() - started < busy_secs:
            for name, result in busy_round(
                running, 150 * workers, connections, first=len(results["off"])
            ).items():
                results[name].append(result)
            if len(results["off"]) >= 200:
                break
    cpu = ratios(results, "default", "cpu_ms_per_request")
    rps = ratios(results, "default", "rps")
    off_ms = statistics.median(x["cpu_ms_per_request"] for x in results["off"])
    on_ms = statistics.median(x["cpu_ms_per_request"] for x in results["default"])
    label = f"{kind} --workers {workers}" if kind == "uvicorn" else f"gunicorn, {workers} sync workers"
    return [
        Row(
            f"overhead, {label}, default: whole service's CPU per request vs profiling off",
            fmt_interval(cpu),
            f"< {1 + OVERHEAD_BAR:.2f}",
            mean_interval(cpu)[0] < 1 + OVERHEAD_BAR,
            f"median {on_ms:.3f} vs {off_ms:.3f} ms per request over the master and {workers} workers "
            f"(per worker: {workers} processes share it); both services loaded at once, "
            f"{connections} connections each",
        ),
        Row(
            f"overhead, {label}, default: throughput vs profiling off",
            fmt_interval(rps),
            f"> {1 - OVERHEAD_BAR:.2f}",
            mean_interval(rps)[0] > 1 - OVERHEAD_BAR,
        ),
    ]
