"""Profiling overhead: the same Django workload against a profiled and an unprofiled server.

Two Daphne processes run side by side (default settings vs ENABLE_PROFILING=false, and
PROFILING_FULL=true reported beside them); rounds alternate which arm goes first. Per
round: the server's CPU seconds per request (psutil on the server's pid) and throughput.
The figure is the per-round ratio profiled / unprofiled, as a median with its spread.
"""

from __future__ import annotations

import os
import time

import psutil

from bench.common import Row, fmt_ratio, median_and_spread
from bench.harness import cpu_seconds, load, servers

WORKLOAD = "/bench/catalogue"
OVERHEAD_BAR = 0.02
IDLE_BAR_PERCENT = 1.0


def run(quick: bool = False) -> list[Row]:
    rounds = 3 if quick else 7
    requests = 600 if quick else 2000
    arms = {"off": {"ENABLE_PROFILING": "false"}, "default": {}}
    if not quick:
        arms["full"] = {"PROFILING_FULL": "true"}
    results: dict[str, list[dict]] = {name: [] for name in arms}
    with servers(arms) as running:
        for server in running.values():  # warm up: imports, caches, connections
            load(server, WORKLOAD, 200)
        names = list(arms)
        for r in range(rounds):
            order = names if r % 2 == 0 else list(reversed(names))
            for name in order:
                results[name].append(load(running[name], WORKLOAD, requests))
        idle_percent = measure_idle(running["default"].process.pid, 5.0 if quick else 15.0)

    rows: list[Row] = []
    for name in arms:
        if name == "off":
            continue
        cpu_ratios = [
            on["cpu_ms_per_request"] / off["cpu_ms_per_request"]
            for on, off in zip(results[name], results["off"], strict=True)
        ]
        rps_ratios = [on["rps"] / off["rps"] for on, off in zip(results[name], results["off"], strict=True)]
        med_cpu = median_and_spread(cpu_ratios)[0]
        label = "default settings" if name == "default" else "PROFILING_FULL=true"
        bar = f"< {1 + OVERHEAD_BAR:.2f}" if name == "default" else "reported"
        rows.append(
            Row(
                f"overhead, {label}: server CPU per request vs profiling off",
                fmt_ratio(cpu_ratios),
                bar,
                (med_cpu < 1 + OVERHEAD_BAR) if name == "default" else None,
                f"{median_and_spread([x['cpu_ms_per_request'] for x in results[name]])[0]:.3f} ms vs "
                f"{median_and_spread([x['cpu_ms_per_request'] for x in results['off']])[0]:.3f} ms per request",
            )
        )
        rows.append(
            Row(
                f"overhead, {label}: throughput vs profiling off",
                fmt_ratio(rps_ratios),
                "> 0.98" if name == "default" else "reported",
                (median_and_spread(rps_ratios)[0] > 1 - OVERHEAD_BAR) if name == "default" else None,
                f"{median_and_spread([x['rps'] for x in results[name]])[0]:.0f} vs "
                f"{median_and_spread([x['rps'] for x in results['off']])[0]:.0f} req/s "
                f"(p99 {median_and_spread([x['p99_ms'] for x in results[name]])[0]:.1f} ms)",
            )
        )
    idle_percent, resolution = idle_percent
    rows.append(
        Row(
            "idle CPU of a profiled server (% of one core)",
            f"{idle_percent:.2f} %",
            f"< {IDLE_BAR_PERCENT:g} %",
            idle_percent < IDLE_BAR_PERCENT,
            f"± {resolution:.2f}: the process's CPU clock counts in steps of one clock tick",
        )
    )
    return rows


def measure_idle(pid: int, seconds: float) -> tuple[float, float]:
    """CPU of an idle server process over `seconds`, and the figure's resolution, in % of one core."""
    time.sleep(1.0)  # let the last requests settle
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu_seconds(pid) - before, time.monotonic() - start
    assert psutil.pid_exists(pid)
    tick = 1.0 / os.sysconf("SC_CLK_TCK")  # what psutil's process CPU times count in
    return 100.0 * used / elapsed, 100.0 * tick / elapsed
