"""Endpoint speed: each profiling GET endpoint against two trivial DRF endpoints in the same server.

`/bench/trivial-public` is a bare DRF view (no authentication, permission or throttle): what
a user's own cheapest endpoint costs. `/bench/trivial` is a DRF view with the profiling
API's own policy (API key check and throttle), so the gap between the two is what the key
check and the throttle cost per call. All run under the same load, in interleaved rounds.
Bar: each profiling endpoint serves >= 80 % of the bare endpoint's
requests per second, with p50 latency of a few milliseconds.

The machine is shared: its speed drifts from one load to the next. So every measured
load runs between two loads of the bare endpoint (bare, A, bare, B, bare, ...), and its
ratio is taken against the mean of the two beside it, which cancels a steady drift; the
figure is the median over the rounds.
"""

from __future__ import annotations

from bench.common import Row, fmt_ratio, median_and_spread
from bench.harness import load, servers

BARE = "/bench/trivial-public"
KEYED = "/bench/trivial"
ENDPOINTS = [
    "/api/profiling/memory",
    "/api/profiling/cpu",
    "/api/profiling/bottlenecks",
    "/api/profiling/endpoints",
]
RPS_BAR = 0.80


def _median(results: list[dict], field: str) -> float:
    return median_and_spread([x[field] for x in results])[0]


def run(quick: bool = False) -> list[Row]:
    rounds = 3 if quick else 7
    requests = 300 if quick else 800
    paths = [BARE, KEYED, *ENDPOINTS]
    results: dict[str, list[dict]] = {path: [] for path in paths}
    # Per path and round: its requests/s over the mean of the bare loads just before and after.
    beside: dict[str, list[float]] = {path: [] for path in paths}
    with servers({"default": {}}) as running:
        server = running["default"]
        available = [p for p in paths if load(server, p, 20, connections=2)["errors"] == 0]
        measured = [p for p in available if p != BARE]
        for r in range(rounds):
            order = measured if r % 2 == 0 else list(reversed(measured))
            before = load(server, BARE, requests, connections=4)
            results[BARE].append(before)
            for path in order:
                result = load(server, path, requests, connections=4)
                after = load(server, BARE, requests, connections=4)
                results[path].append(result)
                results[BARE].append(after)
                beside[path].append(2 * result["rps"] / (before["rps"] + after["rps"]))
                before = after
    rows = []
    for baseline, label, bar in ((BARE, "bare", RPS_BAR), (KEYED, "keyed", None)):
        if baseline not in available:
            rows.append(Row(f"{label} trivial DRF endpoint", "not available", "", False))
            continue
        for path in [*ENDPOINTS, *([KEYED] if baseline == BARE else [])]:
            if path not in available:
                rows.append(Row(f"{path} vs {label} trivial DRF endpoint", "not available", "", False))
                continue
            if baseline == BARE:
                ratios = beside[path]
            else:  # against the keyed endpoint: the two ratios to the bare loads of a round
                ratios = [a / b for a, b in zip(beside[path], beside[KEYED], strict=True)]
            is_endpoint = path in ENDPOINTS and bar is not None
            rows.append(
                Row(
                    f"{path}: requests/s vs {label} trivial DRF endpoint",
                    fmt_ratio(ratios),
                    f">= {bar:.2f}" if is_endpoint else "",
                    median_and_spread(ratios)[0] >= bar if is_endpoint else None,
                    f"{_median(results[path], 'rps'):.0f} req/s, p50 {_median(results[path], 'p50_ms'):.1f} ms, "
                    f"p99 {_median(results[path], 'p99_ms'):.1f} ms, "
                    f"{_median(results[path], 'cpu_ms_per_request'):.2f} server CPU ms/request at 4 connections",
                )
            )
    for path, label in (
        (BARE, "bare trivial DRF endpoint (no auth, no throttle)"),
        (KEYED, "keyed trivial DRF endpoint (key check + throttle)"),
    ):
        if path in available:
            rows.append(
                Row(
                    label,
                    f"{_median(results[path], 'rps'):.0f} req/s, p50 {_median(results[path], 'p50_ms'):.1f} ms, "
                    f"{_median(results[path], 'cpu_ms_per_request'):.2f} server CPU ms/request",
                )
            )
    return rows
