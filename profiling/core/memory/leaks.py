"""Leak analysis over the census history: which held memory keeps growing and is never given back.

A component is a potential leak when, over its checks (at least MIN_CHECKS):
- it grew in at least half of the steps between checks and shrank in at most a quarter,
- it still grew within the last third of the steps (a cache that filled once and then
  stayed flat is not a leak),
- its latest size is within 10 % of its largest (memory that is given back is not a leak),
- the least-squares slope of its size over time, fitted from the check before its first
  growth to the latest check, is positive.
A step counts as growth (or shrinkage) beyond a tolerance of max(1 KiB, 0.1 % of the size),
so the sampling error of the size estimate is not read as growth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from profiling.core.config import MIB
from profiling.core.memory.census import Census, Measure
from profiling.core.series import least_squares_slope
from profiling.core.timefmt import iso_utc

MIN_CHECKS = 3
MAX_LEAKS_REPORTED = 20
MAX_TYPE_PATTERNS = 3
# A type's growth is worth a sentence only past this many bytes (types are noisier than
# named containers); the profiler's own types are left out.
MIN_TYPE_GROWTH_BYTES = MIB
ACCELERATION_RATIO = 1.5
SECONDS_PER_HOUR = 3600.0


def severity(rate_mb_per_hour: float) -> str:
    """low < 1, medium 1-10, high 10-50, critical >= 50 MB/hour."""
    if rate_mb_per_hour >= 50:
        return "critical"
    if rate_mb_per_hour >= 10:
        return "high"
    if rate_mb_per_hour >= 1:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Growth:
    """A series that keeps growing: its fitted rate and where the growth was seen."""

    rate_mb_per_hour: float
    first_seen: float  # unix seconds of the first check that showed growth
    last_seen: float  # unix seconds of the latest check that showed growth
    checks: int  # checks the rate was fitted over
    pattern: str  # "steady" or "accelerating"
    latest: Measure


def _tolerance(size: int) -> float:
    return max(1024.0, 0.001 * size)


def _slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    slope = least_squares_slope(points)
    return 0.0 if slope is None else slope * SECONDS_PER_HOUR / MIB


def growth_of(series: Sequence[tuple[float, float, Measure]]) -> Growth | None:
    """Fit (monotonic, unix, measure) points oldest first; None unless they show a leak."""
    if len(series) < MIN_CHECKS:
        return None
    sizes = [m.size_bytes for _, _, m in series]
    steps = len(sizes) - 1
    grew = [sizes[i + 1] - sizes[i] > _tolerance(sizes[i]) for i in range(steps)]
    shrank = [sizes[i] - sizes[i + 1] > _tolerance(sizes[i]) for i in range(steps)]
    recent = grew[-max(1, steps // 3) :]
    if (
        sum(grew) < math.ceil(steps / 2)
        or sum(shrank) > steps // 4
        or not any(recent)
        or sizes[-1] < 0.9 * max(sizes)
    ):
        return None
    start = grew.index(True)  # the check before the first growth step
    fitted = series[start:]
    points = [(mono, float(m.size_bytes)) for mono, _, m in fitted]
    rate = _slope_per_hour(points)
    if rate <= 0:
        return None
    pattern = "steady"
    if len(points) >= 4:
        middle = len(points) // 2
        early = _slope_per_hour(points[: middle + 1])
        late = _slope_per_hour(points[middle:])
        if late > ACCELERATION_RATIO * max(early, 0.0) and late - early > 0.1 * rate:
            pattern = "accelerating"
    last_growth = steps - 1 - grew[::-1].index(True)
    return Growth(
        rate_mb_per_hour=rate,
        first_seen=series[start + 1][1],
        last_seen=series[last_growth + 1][1],
        checks=len(fitted),
        pattern=pattern,
        latest=series[-1][2],
    )


def _series(history: Sequence[Census], name: str, attr: str) -> list[tuple[float, float, Measure]]:
    return [(c.monotonic, c.timestamp, getattr(c, attr)[name]) for c in history if name in getattr(c, attr)]


def _leak_entry(component: str, growth: Growth) -> dict:
    latest = growth.latest
    return {
        "component": component,
        "allocation_count": latest.count,
        "total_size_bytes": latest.size_bytes,
        "average_size_bytes": round(latest.size_bytes / latest.count, 1) if latest.count else 0.0,
        "growth_rate_mb_per_hour": round(growth.rate_mb_per_hour, 4),
        "severity": severity(growth.rate_mb_per_hour),
        "first_seen": iso_utc(growth.first_seen),
        "last_seen": iso_utc(growth.last_seen),
        "checks_fitted": growth.checks,
        "pattern": growth.pattern,
    }


def _rss_rate(history: Sequence[Census]) -> float | None:
    points = [(c.monotonic, float(c.rss_bytes)) for c in history if c.rss_bytes is not None]
    if len(points) < 2:
        return None
    return round(_slope_per_hour(points), 4)


def analyse(history: Sequence[Census], *, interval_secs: float, now: float) -> dict:
    """Build the leak report from the census history, oldest first (without the timing fields)."""
    checks = len(history)
    span = history[-1].monotonic - history[0].monotonic if checks else 0.0
    report: dict = {
        "timestamp": iso_utc(now),
        "checks_analyzed": checks,
        "history_secs": round(span, 3),
        "first_check": iso_utc(history[0].timestamp) if checks else None,
        "last_check": iso_utc(history[-1].timestamp) if checks else None,
        "components_tracked": len(history[-1].components) if checks else 0,
        "objects_tracked": history[-1].objects_total if checks else None,
        "rss_growth_rate_mb_per_hour": _rss_rate(history),
        "potential_leaks": [],
        "growth_rate_mb_per_hour": None,
        "highest_risk_component": None,
        "suspicious_patterns": [],
        "recommendations": [],
        "note": None,
    }
    if checks < MIN_CHECKS:
        report["note"] = (
            f"Too little history to tell growth from noise: {checks} check(s) so far, "
            f"at least {MIN_CHECKS} are needed. The background check runs every {interval_secs:g} s "
            "and each POST adds one; ask again after the next check."
        )
        report["recommendations"] = [report["note"]]
        return report

    latest = history[-1]
    leaks = []
    for name in latest.components:
        growth = growth_of(_series(history, name, "components"))
        if growth is not None:
            leaks.append((name, growth))
    leaks.sort(key=lambda item: (item[1].rate_mb_per_hour, item[1].latest.size_bytes), reverse=True)
    entries = [_leak_entry(name, growth) for name, growth in leaks[:MAX_LEAKS_REPORTED]]
    report["potential_leaks"] = entries
    report["growth_rate_mb_per_hour"] = round(sum(g.rate_mb_per_hour for _, g in leaks), 4)
    report["highest_risk_component"] = entries[0]["component"] if entries else None

    patterns = []
    for entry in entries:
        patterns.append(
            f"{entry['component']}: {entry['pattern']} growth of {entry['growth_rate_mb_per_hour']:.2f} "
            f"MB/hour over {entry['checks_fitted']} checks, never given back"
        )
    type_growth = []
    for name in latest.types:
        if name.startswith("profiling."):
            continue
        series = _series(history, name, "types")
        growth = growth_of(series)
        if growth is not None and growth.latest.size_bytes - series[0][2].size_bytes >= MIN_TYPE_GROWTH_BYTES:
            type_growth.append((name, growth))
    type_growth.sort(key=lambda item: item[1].rate_mb_per_hour, reverse=True)
    for name, growth in type_growth[:MAX_TYPE_PATTERNS]:
        patterns.append(
            f"Objects of type {name} keep growing: {growth.latest.count} now (~"
            f"{growth.latest.size_bytes / MIB:.2f} MB), {growth.pattern} growth of "
            f"{growth.rate_mb_per_hour:.2f} MB/hour"
        )
    report["suspicious_patterns"] = patterns
    report["recommendations"] = _recommendations(entries, report, checks, span)
    return report


def _recommendations(entries: list[dict], report: dict, checks: int, span: float) -> list[str]:
    advice = []
    for entry in entries[:5]:
        advice.append(
            f"Investigate {entry['component']} for a memory leak: it grew "
            f"{entry['growth_rate_mb_per_hour']:.2f} MB/hour and now holds {entry['allocation_count']} "
            f"items (~{entry['total_size_bytes'] / MIB:.2f} MB)."
        )
    if any(e["severity"] in ("high", "critical") for e in entries):
        worst = entries[0]
        advice.append(
            f"Act now: at this rate {worst['component']} adds "
            f"{worst['growth_rate_mb_per_hour'] * 24:.0f} MB a day."
        )
    if entries:
        advice.append(
            "Bound caches and registries (a maximum size with LRU or TTL eviction) and remove entries when done."
        )
        return advice
    advice.append(
        f"No container held by application code grew steadily over the last {checks} checks ({span:.0f} s)."
    )
    rss_rate = report["rss_growth_rate_mb_per_hour"]
    if rss_rate is not None and rss_rate >= 1:
        advice.append(
            f"RSS grew {rss_rate:.2f} MB/hour while no application container did: the growth is elsewhere "
            "(libraries, C extensions, fragmentation). Compare two snapshots or look at /api/profiling/allocations."
        )
    return advice
