"""The endpoints report: per route, its requests and the share of the samples it ran."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from profiling.core.endpoints.requests import RouteRequests
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import attribute, sample_notes
from profiling.core.stacks.store import Stack, StackStats, Totals
from profiling.core.timefmt import iso_utc

if TYPE_CHECKING:
    from profiling.core.endpoints.routes import RouteTable

HOTSPOTS_PER_ROUTE = 3
ATTRIBUTION_NOTE = (
    "Samples are attributed to the route whose request the sampled thread or task was serving "
    "(background: no request); requests, errors and latency are counted per request by the "
    "server entry point. cpu_ms_per_request is the route's sampled CPU over its requests: like "
    "every sampled figure it needs many samples to be close."
)


def route_totals(totals: Totals, route_id: int) -> Totals:
    """The window's figures for one route's samples only (GC time split by CPU share)."""
    result = Totals(span_secs=totals.span_secs, ticks=totals.ticks)
    for stack, stats in totals.stacks.items():
        if stack and stack[0] == route_id:
            result.stacks[stack] = stats
            result.busy_samples += stats.samples
            result.cpu_secs += stats.cpu_secs
            result.wall_secs += stats.wall_secs
    if totals.cpu_secs > 0:
        result.gc_secs = totals.gc_secs * result.cpu_secs / totals.cpu_secs
    result.app_calls, result.leaf_calls = totals.app_calls, totals.leaf_calls
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000.0 * seconds, 3)


def _hotspots(
    stacks: dict[Stack, StackStats], labeler: CodeLabeler, position_of: Callable[[Stack], int], limit: int
) -> list[dict]:
    totals = Totals(stacks=stacks)
    attributed = attribute(totals, position_of, "app")
    cpu = sum(e.cpu_secs for e in attributed.values())
    wall = sum(e.wall_secs for e in attributed.values())
    spots = []
    for label_id, entry in attributed.items():
        label = labeler.label(label_id)
        spots.append(
            {
                "function_name": label.function_name,
                "file_location": label.file_location,
                "line_number": label.line_number,
                "cpu_time_percent": round(100.0 * entry.cpu_secs / cpu, 2) if cpu > 0 else 0.0,
                "wall_time_percent": round(100.0 * entry.wall_secs / wall, 2) if wall > 0 else 0.0,
                "samples": entry.samples,
            }
        )
    spots.sort(
        key=lambda s: (-s["cpu_time_percent"], -s["wall_time_percent"], -s["samples"], s["function_name"])
    )
    return spots[:limit]


def endpoints_report(
    totals: Totals,
    requests: dict[int, RouteRequests],
    routes: RouteTable,
    labeler: CodeLabeler,
    position_of: Callable[[Stack], int],
    *,
    limit: int,
    sample_hz: float,
    timestamp: float,
    started: float,
    cpu_clock_available: bool = True,
    perf_counter: Callable[[], float] = time.perf_counter,
) -> dict:
    """The body of GET /api/profiling/endpoints for one merged window."""
    by_route: dict[int, dict[Stack, StackStats]] = {}
    for stack, stats in totals.stacks.items():
        if stack and routes.is_route(stack[0]):
            by_route.setdefault(stack[0], {})[stack] = stats
    total_cpu = sum(s.cpu_secs for stacks in by_route.values() for s in stacks.values())
    total_wall = sum(s.wall_secs for stacks in by_route.values() for s in stacks.values())
    rows = []
    for route_id in set(by_route) | set(requests):
        route = routes.routes.get(route_id)
        if route is None:
            continue
        stacks = by_route.get(route_id, {})
        cpu = sum(s.cpu_secs for s in stacks.values())
        wall = sum(s.wall_secs for s in stacks.values())
        figures = requests.get(route_id) or RouteRequests()
        rows.append(
            {
                "endpoint": route.endpoint,
                "method": route.method,
                "route": route.route,
                "name": route.name,
                "requests": figures.requests,
                "errors": figures.errors,
                "latency_ms": {
                    "p50": _ms(figures.quantile(0.50)),
                    "p95": _ms(figures.quantile(0.95)),
                    "p99": _ms(figures.quantile(0.99)),
                },
                "cpu_ms_per_request": round(1000.0 * cpu / figures.requests, 3) if figures.requests else None,
                "busy_time_percent": round(100.0 * wall / total_wall, 2) if total_wall > 0 else 0.0,
                "cpu_time_percent": round(100.0 * cpu / total_cpu, 2) if total_cpu > 0 else 0.0,
                "samples": sum(s.samples for s in stacks.values()),
                "hotspots": _hotspots(stacks, labeler, position_of, HOTSPOTS_PER_ROUTE),
            }
        )
    rows.sort(key=lambda r: (-r["busy_time_percent"], -r["requests"], r["endpoint"]))
    notes = [ATTRIBUTION_NOTE]
    notes.extend(sample_notes(totals, busy=total_wall > 0, cpu_clock_available=cpu_clock_available))
    return {
        "timestamp": iso_utc(timestamp),
        "analysis_duration_ms": round(1000.0 * (perf_counter() - started), 3),
        "window_secs": round(totals.span_secs, 3),
        "sample_hz": sample_hz,
        "busy_samples": totals.busy_samples,
        "endpoints": rows[:limit],
        "note": " ".join(notes),
    }
