"""What the API asks of the stack sampler: the bottlenecks report and flame graphs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from profiling.core.errors import InvalidParameterError, ProfilingNotRunningError
from profiling.core.stacks.report import bottlenecks_report, collapsed, flame_tree
from profiling.core.stacks.sampler import StackSampler
from profiling.core.timefmt import iso_utc

if TYPE_CHECKING:
    from profiling.core.runtime import ProfilingRuntime

SCOPES = ("app", "all")
FLAME_FORMATS = ("collapsed", "json")
MAX_LIMIT = 100


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


def bottlenecks(
    runtime: ProfilingRuntime, *, window: float = 60, limit: int = 10, scope: str = "app"
) -> dict:
    """Hotspots of the last `window` seconds, ranked by impact score."""
    started = time.perf_counter()
    sampler = stack_sampler(runtime)
    _check_window(sampler, window)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be between 1 and {MAX_LIMIT}")
    if scope not in SCOPES:
        raise InvalidParameterError("scope must be app or all")
    totals = sampler.store.window(sampler.now(), window)
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


def flamegraph(runtime: ProfilingRuntime, *, window: float = 60, format: str = "json") -> dict | str:
    """The window's busy samples as collapsed stacks (text) or a {name, value, children} tree."""
    sampler = stack_sampler(runtime)
    _check_window(sampler, window)
    if format not in FLAME_FORMATS:
        raise InvalidParameterError("format must be collapsed or json")
    totals = sampler.store.window(sampler.now(), window)
    if format == "collapsed":
        return collapsed(totals, sampler.labeler)
    tree = flame_tree(totals, sampler.labeler)
    return {
        **tree,
        "timestamp": iso_utc(time.time()),
        "window_secs": round(totals.span_secs, 3),
        "sample_hz": sampler.sample_hz,
        "unit": "samples",
    }
