"""Turn a window of stack samples into the bottlenecks report and flame graphs."""

from __future__ import annotations

import time
from collections.abc import Callable

from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.store import Stack, StackStats, Totals
from profiling.core.timefmt import iso_utc

# impact_score >= this: "Critical: Optimize ..."; cpu share or impact above the
# "consider" bars: "Consider optimizing ...".
CRITICAL_IMPACT = 0.5
CONSIDER_CPU_PERCENT = 10.0
CONSIDER_IMPACT = 0.2
GC_NOTABLE_PERCENT = 10.0
# Fewer busy samples than this rank nothing: a single slow request (a login's password
# hash on a fresh server) would otherwise read as "Critical".
MIN_RANKED_BUSY_SAMPLES = 20
IO_NOTABLE_PERCENT = 50.0

SAMPLED_CALLS_NOTE = (
    "call_count is the number of distinct calls the sampler observed (a lower bound: calls "
    "shorter than the sampling interval are mostly unseen), so average_duration_us is an "
    "upper bound. PROFILING_FULL=true gives exact counts on Python 3.12+; on older "
    "interpreters it changes no figure."
)


def impact_score(cpu_share: float, wall_share: float) -> float:
    """0..1: the mean of a function's share of on-CPU time and of busy wall time."""
    return round(min(1.0, max(0.0, 0.5 * cpu_share + 0.5 * wall_share)), 2)


def attribute(totals: Totals, position_of: Callable[[Stack], int], scope: str) -> dict[int, StackStats]:
    """Sum each stack's busy time into its innermost app frame (scope=app) or its leaf (all)."""
    result: dict[int, StackStats] = {}
    for stack, stats in totals.stacks.items():
        label = stack[position_of(stack)] if scope == "app" else stack[-1]
        entry = result.get(label)
        if entry is None:
            entry = result[label] = StackStats()
        entry.add(stats)
    return result


def bound_split(totals: Totals) -> tuple[float, float, float] | None:
    """(cpu, io, memory) percent of busy thread time, adding up to 100; None if nothing was busy.

    memory = time in garbage collection (it runs on the CPU of a busy thread, so it is
    taken out of the on-CPU time), io = busy time off the CPU, cpu = the rest.
    """
    busy = totals.wall_secs
    if busy <= 0:
        return None
    on_cpu = min(totals.cpu_secs, busy)
    gc_secs = min(totals.gc_secs, on_cpu)
    cpu = round(100.0 * (on_cpu - gc_secs) / busy, 1)
    memory = round(100.0 * gc_secs / busy, 1)
    io = round(max(0.0, 100.0 - cpu - memory), 1)
    return cpu, io, memory


def bottlenecks_report(
    totals: Totals,
    labeler: CodeLabeler,
    position_of: Callable[[Stack], int],
    *,
    scope: str,
    limit: int,
    window_secs: float,
    sample_hz: float,
    timestamp: float,
    started: float,
    exact: dict[str, tuple[int, float]] | None = None,
    exact_note: str | None = None,
    cpu_clock_available: bool = True,
    min_ranked_samples: int = MIN_RANKED_BUSY_SAMPLES,
    perf_counter: Callable[[], float] = time.perf_counter,
) -> dict:
    """The body of GET /api/profiling/bottlenecks for one merged window."""
    attributed = attribute(totals, position_of, scope)
    calls = totals.app_calls if scope == "app" else totals.leaf_calls
    total_cpu = sum(a.cpu_secs for a in attributed.values())
    total_wall = sum(a.wall_secs for a in attributed.values())
    hotspots = []
    for label_id, entry in attributed.items():
        label = labeler.label(label_id)
        cpu_share = entry.cpu_secs / total_cpu if total_cpu > 0 else 0.0
        wall_share = entry.wall_secs / total_wall if total_wall > 0 else 0.0
        if exact is not None and label.function_name in exact:
            call_count, total_secs = exact[label.function_name]
        else:
            call_count, total_secs = calls.get(label_id, 0), entry.wall_secs
        hotspots.append(
            {
                "function_name": label.function_name,
                "file_location": label.file_location,
                "line_number": label.line_number,
                "cpu_time_percent": round(100.0 * cpu_share, 2),
                "wall_time_percent": round(100.0 * wall_share, 2),
                "call_count": call_count,
                "average_duration_us": round(1e6 * total_secs / call_count, 1) if call_count else None,
                "impact_score": impact_score(cpu_share, wall_share),
                "samples": entry.samples,
            }
        )
    hotspots.sort(
        key=lambda h: (-h["impact_score"], -h["cpu_time_percent"], -h["samples"], h["function_name"])
    )
    hotspots = hotspots[:limit]
    split = bound_split(totals)
    notes = []
    if exact_note or exact is None:
        notes.append(exact_note or SAMPLED_CALLS_NOTE)
    notes.extend(sample_notes(totals, busy=split is not None, cpu_clock_available=cpu_clock_available))
    too_few = 0 < totals.busy_samples < min_ranked_samples
    if too_few:
        notes.append(
            f"Only {totals.busy_samples} busy samples in this window: too few to rank functions, so "
            f"no recommendation is made until there are {min_ranked_samples}."
        )
    cpu_pct, io_pct, memory_pct = split if split is not None else (None, None, None)
    return {
        "timestamp": iso_utc(timestamp),
        "analysis_duration_ms": round(1000.0 * (perf_counter() - started), 3),
        "window_secs": round(totals.span_secs, 3),
        "scope": scope,
        "sample_hz": sample_hz,
        "achieved_sample_hz": round(totals.ticks / totals.span_secs, 2) if totals.span_secs > 0 else None,
        "hotspots": hotspots,
        "total_samples": (
            totals.busy_samples + totals.idle_samples + totals.unmeasured_samples + totals.discarded_samples
        ),
        "busy_samples": totals.busy_samples,
        "idle_samples": totals.idle_samples,
        "unmeasured_samples": totals.unmeasured_samples,
        "discarded_samples": totals.discarded_samples,
        "cpu_bound_percent": cpu_pct,
        "io_bound_percent": io_pct,
        "memory_bound_percent": memory_pct,
        "gc_seconds": round(totals.gc_secs, 6),
        "call_count_exact": exact is not None,
        "recommendations": [] if too_few else recommendations(hotspots, split),
        "note": " ".join(notes) or None,
    }


def sample_notes(totals: Totals, *, busy: bool, cpu_clock_available: bool) -> list[str]:
    """Sentences about the samples that were not counted as busy, when they explain the figures."""
    notes = []
    if not cpu_clock_available:
        notes.append(
            "Per-thread CPU clocks are unavailable on this platform: no sample can be measured, "
            "every one is counted in unmeasured_samples."
        )
    elif totals.unmeasured_samples:
        notes.append(
            f"{totals.unmeasured_samples} thread samples could not be measured (the thread's CPU "
            "clock could not be read, e.g. it ended during the sample) and are counted in "
            "unmeasured_samples, not as busy or idle."
        )
    if not busy:
        measured = totals.idle_samples
        if measured and measured == totals.busy_samples + totals.idle_samples + totals.unmeasured_samples:
            notes.append("No busy samples in this window: every sampled thread was idle.")
        elif measured:
            notes.append("No busy samples in this window: every thread that could be measured was idle.")
        else:
            notes.append("No busy samples in this window: no thread sample could be measured.")
    return notes


def recommendations(hotspots: list[dict], split: tuple[float, float, float] | None) -> list[str]:
    """Sentences naming the worst offenders, in the seed document's wording."""
    sentences = []
    for spot in hotspots:
        name, cpu, impact = spot["function_name"], spot["cpu_time_percent"], spot["impact_score"]
        if impact >= CRITICAL_IMPACT:
            sentences.append(f"Critical: Optimize {name} ({cpu:.1f}% CPU time, impact score: {impact:.2f})")
        elif cpu >= CONSIDER_CPU_PERCENT or impact >= CONSIDER_IMPACT:
            sentences.append(f"Consider optimizing {name} ({cpu:.1f}% CPU time)")
    if split is not None:
        _, io_pct, memory_pct = split
        if memory_pct >= GC_NOTABLE_PERCENT:
            sentences.append(
                f"Garbage collection took {memory_pct:.1f}% of busy time: allocate fewer short-lived "
                "objects or raise gc thresholds (gc.set_threshold, gc.freeze after start-up)"
            )
        if io_pct >= IO_NOTABLE_PERCENT:
            sentences.append(
                f"{io_pct:.1f}% of busy time was spent off the CPU (I/O, locks, waiting for the GIL): "
                "look at the hotspots with high wall_time_percent"
            )
    return sentences


# -- flame graphs ------------------------------------------------------------------------


def _frame_name(labeler: CodeLabeler, label_id: int) -> str:
    # `;` separates frames and a space ends the stack in the collapsed format.
    return labeler.label(label_id).function_name.replace(";", ":").replace(" ", "_")


def _frames(stack: Stack, is_route: Callable[[int], bool] | None) -> Stack:
    """A stack without the route label the sampler puts at its root when it attributes samples."""
    return stack[1:] if is_route is not None and stack and is_route(stack[0]) else stack


def collapsed(totals: Totals, labeler: CodeLabeler, is_route: Callable[[int], bool] | None = None) -> str:
    """Busy samples as collapsed stacks: `outer;inner;leaf count` lines (flamegraph.pl, speedscope)."""
    lines: dict[str, int] = {}
    for stack, stats in totals.stacks.items():
        key = ";".join(_frame_name(labeler, label_id) for label_id in _frames(stack, is_route))
        lines[key] = lines.get(key, 0) + stats.samples
    return "".join(f"{key} {count}\n" for key, count in sorted(lines.items()))


def flame_tree(
    totals: Totals,
    labeler: CodeLabeler,
    *,
    min_fraction: float = 0.0005,
    is_route: Callable[[int], bool] | None = None,
) -> dict:
    """Busy samples as a tree of {name, value, children}; nodes under `min_fraction` are dropped."""
    root: dict = {"name": "all", "value": 0, "children": {}}
    for stack, stats in totals.stacks.items():
        node = root
        node["value"] += stats.samples
        for label_id in _frames(stack, is_route):
            children = node["children"]
            child = children.get(label_id)
            if child is None:
                child = children[label_id] = {
                    "name": _frame_name(labeler, label_id),
                    "value": 0,
                    "children": {},
                }
            child["value"] += stats.samples
            node = child
    threshold = root["value"] * min_fraction

    def finish(node: dict) -> dict:
        kept = [c for c in node["children"].values() if c["value"] >= threshold]
        kept.sort(key=lambda c: (-c["value"], c["name"]))
        return {"name": node["name"], "value": node["value"], "children": [finish(c) for c in kept]}

    return finish(root)
