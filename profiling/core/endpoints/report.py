"""The endpoints report: per route, its requests and the share of the samples it ran."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from profiling.core.endpoints.requests import RouteRequests
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import sample_notes
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


# Per route [cpu secs, wall secs, samples], and per route per function (the label of its
# innermost application frame) the same.
RouteFigures = tuple[dict[int, list], dict[int, dict[int, list]]]


def route_figures(
    stacks: Mapping[Stack, StackStats], is_route: Callable[[int], bool], position_of: Callable[[Stack], int]
) -> RouteFigures:
    """One pass over a window's stacks: per route its sums and its functions' cpu, wall and samples."""
    sums: dict[int, list] = {}
    spots: dict[int, dict[int, list]] = {}
    for stack, stats in stacks.items():
        route_id = stack[0] if stack else None
        if route_id is None or not is_route(route_id):
            continue
        entry = sums.get(route_id)
        if entry is None:
            entry = sums[route_id] = [0.0, 0.0, 0]
            spots[route_id] = {}
        entry[0] += stats.cpu_secs
        entry[1] += stats.wall_secs
        entry[2] += stats.samples
        label = stack[position_of(stack)]
        spot = spots[route_id].get(label)
        if spot is None:
            spot = spots[route_id][label] = [0.0, 0.0, 0]
        spot[0] += stats.cpu_secs
        spot[1] += stats.wall_secs
        spot[2] += stats.samples
    return sums, spots


def _added(base: RouteFigures, more: RouteFigures) -> RouteFigures:
    """The sum of two route figures; neither is changed. Entries `more` has nothing to add
    to are `base`'s own (read them, never change them in place)."""
    sums, spots = dict(base[0]), dict(base[1])
    for route_id, entry in more[0].items():
        held = sums.get(route_id, (0.0, 0.0, 0))
        sums[route_id] = [held[0] + entry[0], held[1] + entry[1], held[2] + entry[2]]
        found = spots[route_id] = dict(spots.get(route_id, {}))
        for label, e in more[1].get(route_id, {}).items():
            held = found.get(label, (0.0, 0.0, 0))
            found[label] = [held[0] + e[0], held[1] + e[1], held[2] + e[2]]
    return sums, spots


class WindowFigures:
    """A live window's route figures, with the sums of its closed buckets kept.

    A window of the store is the merge of its closed buckets (the same object until one
    more closes or the window moves on) and of the newest one: the closed part is summed
    once, and each report adds only the newest bucket's stacks to it. A dashboard that
    polls the endpoints table pays for one second of stacks, not for the whole window.
    """

    def __init__(self) -> None:
        self._closed: tuple[Totals, RouteFigures] | None = None

    def of(
        self, totals: Totals, is_route: Callable[[int], bool], position_of: Callable[[Stack], int]
    ) -> RouteFigures:
        if totals.parts is None:
            return route_figures(totals.stacks, is_route, position_of)
        closed, newest = totals.parts
        kept = self._closed
        if kept is None or kept[0] is not closed:
            kept = self._closed = (closed, route_figures(closed.stacks, is_route, position_of))
        return _added(kept[1], route_figures(newest.stacks, is_route, position_of))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000.0 * seconds, 3)


def _hotspots(spots: dict[int, list], labeler: CodeLabeler, limit: int) -> list[dict]:
    """A route's top functions from {label id: [cpu secs, wall secs, samples]}."""
    cpu = sum(e[0] for e in spots.values())
    wall = sum(e[1] for e in spots.values())
    ranked = sorted(spots.items(), key=lambda item: (-item[1][0], -item[1][1], -item[1][2]))[:limit]
    result = []
    for label_id, (spot_cpu, spot_wall, samples) in ranked:
        label = labeler.label(label_id)
        result.append(
            {
                "function_name": label.function_name,
                "file_location": label.file_location,
                "line_number": label.line_number,
                "cpu_time_percent": round(100.0 * spot_cpu / cpu, 2) if cpu > 0 else 0.0,
                "wall_time_percent": round(100.0 * spot_wall / wall, 2) if wall > 0 else 0.0,
                "samples": samples,
            }
        )
    return result


def endpoints_report(
    totals: Totals,
    requests: dict[int, RouteRequests] | None,
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
    figures: RouteFigures | None = None,
) -> dict:
    """The body of GET /api/profiling/endpoints for one merged window.

    `requests` is None when the request log no longer holds the window: the request
    figures are then null, the sampled ones are still given. `figures` are the window's
    `route_figures` when the caller has them (see `WindowFigures`)."""
    counted = requests is not None
    requests = requests or {}
    sums, spots = (
        figures if figures is not None else route_figures(totals.stacks, routes.is_route, position_of)
    )
    total_cpu = sum(e[0] for e in sums.values())
    total_wall = sum(e[1] for e in sums.values())
    rows = []
    for route_id in set(sums) | set(requests):
        route = routes.routes.get(route_id)
        if route is None:
            continue
        cpu, wall, samples = sums.get(route_id, (0.0, 0.0, 0))
        figures = requests.get(route_id) or RouteRequests()
        rows.append(
            {
                "endpoint": route.endpoint,
                "method": route.method,
                "route": route.route,
                "name": route.name,
                "requests": figures.requests if counted else None,
                "errors": figures.errors if counted else None,
                "latency_ms": dict(
                    zip(("p50", "p95", "p99"), map(_ms, figures.quantiles((0.5, 0.95, 0.99))), strict=True)
                ),
                "cpu_ms_per_request": round(1000.0 * cpu / figures.requests, 3) if figures.requests else None,
                "busy_time_percent": round(100.0 * wall / total_wall, 2) if total_wall > 0 else 0.0,
                "cpu_time_percent": round(100.0 * cpu / total_cpu, 2) if total_cpu > 0 else 0.0,
                "samples": samples,
                "hotspots": _hotspots(spots.get(route_id, {}), labeler, HOTSPOTS_PER_ROUTE),
            }
        )
    rows.sort(key=lambda r: (-r["busy_time_percent"], -(r["requests"] or 0), r["endpoint"]))
    notes = [ATTRIBUTION_NOTE]
    if not counted:
        notes.append(
            "The request log keeps the last 600 s: this window's requests, errors and latencies are "
            "no longer held (null); its samples come from the profile history."
        )
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
