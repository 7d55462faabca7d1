"""What the API asks of the stack sampler: the bottlenecks report and flame graphs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from profiling.core.endpoints.report import WindowFigures, endpoints_report, route_totals
from profiling.core.errors import InvalidParameterError, ProfilingNotRunningError
from profiling.core.stacks.export import to_pprof, to_speedscope
from profiling.core.stacks.report import bottlenecks_report, collapsed, flame_tree
from profiling.core.stacks.sampler import StackSampler
from profiling.core.stacks.store import Totals
from profiling.core.stacks.windows import diff_tree, history_window
from profiling.core.timefmt import iso_utc

if TYPE_CHECKING:
    from profiling.core.runtime import ProfilingRuntime

SCOPES = ("app", "all")
FLAME_FORMATS = ("collapsed", "json", "pprof", "speedscope")
MAX_LIMIT = 100
MAX_ENDPOINTS_LIMIT = 300


def stack_sampler(runtime: ProfilingRuntime) -> StackSampler:
    """The runtime's running stack sampler, or the error the API turns into a 503."""
    runtime.require_running()
    worker = runtime.worker(StackSampler)
    if worker is None or not worker.running:
        raise ProfilingNotRunningError("The stack sampler is not running in this process.")
    return worker


def _check_window(sampler: StackSampler, window: float) -> None:
    if not 1 <= window <= sampler.store.max_window_secs:
        raise InvalidParameterError(f"window must be between 1 and {sampler.store.max_window_secs:g} seconds")


def _totals(
    sampler: StackSampler,
    window: float,
    endpoint: str | None,
    start: float | None = None,
    end: float | None = None,
):
    """The window's merged samples (the last `window` seconds, or the history's `start`..`end`
    in unix seconds), only those of one endpoint's requests when it is given."""
    if start is not None and end is not None:
        totals = history_window(sampler, start, end)
    else:
        totals = sampler.store.window(sampler.now(), window)
    if endpoint is None:
        return totals
    tracker = sampler.endpoints
    if tracker is None or not tracker.enabled:
        raise InvalidParameterError(
            "endpoint needs the server entry point wrapped (profiling.asgi.wrap or profiling.wsgi.wrap)"
        )
    route_id = tracker.routes.by_endpoint(endpoint)
    if route_id is None:
        raise InvalidParameterError(
            f"no endpoint {endpoint[:200]!r} has been seen: use an endpoint id from GET /api/profiling/endpoints"
        )
    return route_totals(totals, route_id)


def bottlenecks(
    runtime: ProfilingRuntime,
    *,
    window: float = 60,
    limit: int = 10,
    scope: str = "app",
    endpoint: str | None = None,
    start: float | None = None,
    end: float | None = None,
) -> dict:
    """Hotspots of the last `window` seconds (or of `start`..`end`), ranked by impact score."""
    started = time.perf_counter()
    sampler = stack_sampler(runtime)
    _check_window(sampler, window)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be between 1 and {MAX_LIMIT}")
    if scope not in SCOPES:
        raise InvalidParameterError("scope must be app or all")
    totals = _totals(sampler, window, endpoint, start, end)
    exact, exact_note = (None, None)
    if sampler.exact is not None:
        exact, exact_note = sampler.exact.results()
    return bottlenecks_report(
        totals,
        sampler.labeler,
        sampler.attributed_position,
        scope=scope,
        limit=limit,
        window_secs=window,
        sample_hz=sampler.sample_hz,
        timestamp=time.time(),
        started=started,
        exact=exact,
        exact_note=exact_note,
        cpu_clock_available=sampler.cpu_clock_available,
    )


def flamegraph(
    runtime: ProfilingRuntime,
    *,
    window: float = 60,
    format: str = "json",
    endpoint: str | None = None,
    start: float | None = None,
    end: float | None = None,
) -> dict | str | bytes:
    """The window's busy samples as collapsed stacks (text), a {name, value, children} tree,
    a gzipped pprof profile (bytes) or a speedscope file (a dict); see stacks/export.py."""
    sampler = stack_sampler(runtime)
    _check_window(sampler, window)
    if format not in FLAME_FORMATS:
        raise InvalidParameterError("format must be collapsed, json, pprof or speedscope")
    totals = _totals(sampler, window, endpoint, start, end)
    is_route = sampler.endpoints.routes.is_route if sampler.endpoints is not None else None
    if format == "collapsed":
        return collapsed(totals, sampler.labeler, is_route)
    # -- export formats (pprof, speedscope) --
    if format == "pprof":
        return to_pprof(
            totals,
            sampler.labeler,
            is_route=is_route,
            duration_secs=totals.span_secs,
            period_secs=1.0 / sampler.sample_hz,
            time_nanos=round((start if start is not None else time.time() - totals.span_secs) * 1e9),
        )
    if format == "speedscope":
        scope = f", {endpoint}" if endpoint is not None else ""
        name = f"{runtime.instance}: {totals.span_secs:g} s of busy stacks{scope}"
        return to_speedscope(totals, sampler.labeler, is_route=is_route, name=name)
    # -- end of export formats --
    tree = flame_tree(totals, sampler.labeler, is_route=is_route)
    return {
        **tree,
        "timestamp": iso_utc(time.time()),
        "window_secs": round(totals.span_secs, 3),
        "sample_hz": sampler.sample_hz,
        "unit": "samples",
    }


def endpoints(
    runtime: ProfilingRuntime,
    *,
    window: float = 60,
    limit: int = 20,
    start: float | None = None,
    end: float | None = None,
) -> dict:
    """Per route: requests, errors, latency, CPU per request, share of busy time, hotspots.

    With `start`..`end` (unix seconds) the samples come from the profile history; the
    requests only while the request log still holds that window (its last 600 s)."""
    started = time.perf_counter()
    sampler = stack_sampler(runtime)
    _check_window(sampler, window)
    if not 1 <= limit <= MAX_ENDPOINTS_LIMIT:
        raise InvalidParameterError(f"limit must be between 1 and {MAX_ENDPOINTS_LIMIT}")
    tracker = sampler.endpoints
    if tracker is None:
        raise ProfilingNotRunningError("The stack sampler attributes no samples to requests in this process.")
    tracker.drain()
    now = sampler.now()
    figures = None
    if start is not None and end is not None:
        samples = history_window(sampler, start, end)
        offset = now - time.time()  # unix seconds -> the monotonic clock the request log keeps
        requests = tracker.requests.between(start + offset, end + offset)
    else:
        samples, requests = sampler.store.window(now, window), tracker.requests.window(now, window)
        if tracker.window_figures is None:
            tracker.window_figures = WindowFigures()
        figures = tracker.window_figures.of(samples, tracker.routes.is_route, sampler.attributed_position)
    report = endpoints_report(
        samples,
        requests,
        tracker.routes,
        sampler.labeler,
        sampler.attributed_position,
        limit=limit,
        sample_hz=sampler.sample_hz,
        timestamp=time.time(),
        started=started,
        cpu_clock_available=sampler.cpu_clock_available,
        figures=figures,
    )
    if not tracker.enabled:
        report["note"] = (
            "No request is attributed: the server entry point is not wrapped (profiling.asgi.wrap "
            "or profiling.wsgi.wrap), so every sample is background. " + report["note"]
        )
    return report


def flamegraph_diff(
    runtime,
    *,
    base_start: float,
    base_end: float,
    start: float,
    end: float,
    endpoint: str | None = None,
    now: Callable[[], float] = time.time,
) -> dict:
    """GET /api/profiling/flamegraph/diff: the newer window against the base, frame by frame."""
    sampler = stack_sampler(runtime)
    base = history_window(sampler, base_start, base_end, now=now)
    new = history_window(sampler, start, end, now=now)
    tracker = sampler.endpoints
    is_route = tracker.routes.is_route if tracker is not None else None
    if endpoint is not None:
        route_id = tracker.routes.by_endpoint(endpoint) if tracker is not None and tracker.enabled else None
        if route_id is None:
            raise InvalidParameterError(
                f"no endpoint {endpoint[:200]!r} has been seen: use an endpoint id from GET /api/profiling/endpoints"
            )
        base, new = route_totals(base, route_id), route_totals(new, route_id)

    def described(totals: Totals, first: float, last: float) -> dict:
        samples = sum(s.samples for s in totals.stacks.values())
        return {
            "from": iso_utc(first),
            "to": iso_utc(last),
            "samples": samples,
            "window_secs": round(totals.span_secs, 3),
        }

    return {
        "timestamp": iso_utc(now()),
        "unit": "samples",
        "endpoint": endpoint,
        "base": described(base, base_start, base_end),
        "new": described(new, start, end),
        "tree": diff_tree(base, new, sampler.labeler, is_route=is_route),
    }
