"""Endpoint speed: each profiling GET endpoint against a trivial DRF endpoint in the same server.

All go through the same API key check and throttle (`/bench/trivial` is a DRF view with
the project's default authentication, permission and throttle classes), under the same
load, in interleaved rounds. Bar: each serves >= 80 % of the trivial endpoint's requests
per second, with p50 latency of a few milliseconds.
"""

from __future__ import annotations

from bench.common import Row, fmt_ratio, median_and_spread
from bench.harness import load, servers

TRIVIAL = "/bench/trivial"
ENDPOINTS = ["/api/profiling/memory", "/api/profiling/cpu", "/api/profiling/bottlenecks"]
RPS_BAR = 0.80


def run(quick: bool = False) -> list[Row]:
    rounds = 3 if quick else 5
    requests = 400 if quick else 1500
    paths = [TRIVIAL, *ENDPOINTS]
    results: dict[str, list[dict]] = {path: [] for path in paths}
    with servers({"default": {}}) as running:
        server = running["default"]
        available = [p for p in paths if load(server, p, 20, connections=2)["errors"] == 0]
        for r in range(rounds):
            order = available if r % 2 == 0 else list(reversed(available))
            for path in order:
                results[path].append(load(server, path, requests, connections=4))
    rows = []
    trivial = results[TRIVIAL]
    for path in ENDPOINTS:
        if path not in available:
            rows.append(Row(f"{path} vs trivial DRF endpoint", "not available", f">= {RPS_BAR:.2f}", False))
            continue
        ratios = [a["rps"] / b["rps"] for a, b in zip(results[path], trivial, strict=True)]
        p50 = median_and_spread([x["p50_ms"] for x in results[path]])[0]
        p99 = median_and_spread([x["p99_ms"] for x in results[path]])[0]
        rps = median_and_spread([x["rps"] for x in results[path]])[0]
        rows.append(
            Row(
                f"{path}: requests/s vs trivial DRF endpoint",
                fmt_ratio(ratios),
                f">= {RPS_BAR:.2f}",
                median_and_spread(ratios)[0] >= RPS_BAR,
                f"{rps:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms at 4 connections",
            )
        )
    t_rps = median_and_spread([x["rps"] for x in trivial])[0]
    t_p50 = median_and_spread([x["p50_ms"] for x in trivial])[0]
    rows.append(Row("trivial DRF endpoint (key check + throttle)", f"{t_rps:.0f} req/s, p50 {t_p50:.1f} ms"))
    return rows
