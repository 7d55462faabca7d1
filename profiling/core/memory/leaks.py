"""Leak analysis over the census history: which held memory keeps growing and is never given back.

A step between two checks is growth when the size grew beyond a tolerance of
max(1 KiB, 0.1 % of the size) *and* the item count grew (a dict that rebuilds its table
at a constant length is not growing), shrinkage when the size fell beyond it, and a
release when the items were given back: the previous check's oldest and newest items are
both gone (an LRU that evicts, a list cleared and refilled), or the count fell.

Only the checks since the last release count, and only once that run has lasted at least
as long as the longest time seen between two releases (and the stretch before the first):
memory given back in cycles is not a leak, however late in its cycle a check lands. Within that run, a component is a
potential leak when, over a stretch that starts with a growth step and ends at the latest
check (the earliest such stretch that passes, so history from before the growth began
does not hide it):
- at least MIN_CHECKS - 1 of its steps are growth, at least half of them, at most a
  quarter shrinkage,
- it still grew within the last third of the steps (a cache that filled once and then
  stayed flat is not a leak),
- its latest size is within 10 % of its largest,
- the least-squares slope of its size over time is positive.
"""

from __future__ import annotations

import itertools
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


def _releases(measures: Sequence[Measure], counts_exact: bool) -> list[int]:
    """The steps (i: from check i to i + 1) where the items were given back."""
    found = []
    for i in range(len(measures) - 1):
        after = measures[i + 1]
        if after.retained is False or (counts_exact and after.count < measures[i].count):
            found.append(i)
    return found


def _current_run(times: Sequence[float], releases: list[int]) -> int | None:
    """The first check of the run since the last release, if that run lasted long enough to judge.

    Long enough: at least as long as the longest time seen between two releases (an upper
    bound of a fill cycle) and the stretch up to the first one, so a container given back
    in cycles is never judged inside a cycle once a whole cycle was seen.
    """
    if not releases:
        return 0
    cycles = [times[b + 1] - times[a] for a, b in itertools.pairwise(releases)]
    cycles.append(times[releases[0] + 1] - times[0])  # the stretch before the first, and its release
    start = releases[-1] + 1
    if len(times) - 1 - start >= MIN_CHECKS - 1 and times[-1] - times[start] >= max(cycles):
        return start
    return None


def growth_of(series: Sequence[tuple[float, float, Measure]], *, counts_exact: bool = True) -> Growth | None:
    """Fit (monotonic, unix, measure) points oldest first; None unless they show a leak.

    `counts_exact`: a fall of the count is a release (a container's length); type counts
    move with the traffic and are not.
    """
    if len(series) < MIN_CHECKS:
        return None
    measures = [m for _, _, m in series]
    run = _current_run([mono for mono, _, _ in series], _releases(measures, counts_exact))
    if run is None:
        return None
    series, measures = series[run:], measures[run:]
    sizes = [m.size_bytes for m in measures]
    counts = [m.count for m in measures]
    steps = len(sizes) - 1
    if steps < MIN_CHECKS - 1:
        return None
    grew = [
        sizes[i + 1] - sizes[i] > _tolerance(sizes[i]) and counts[i + 1] > counts[i] for i in range(steps)
    ]
    shrank = [sizes[i] - sizes[i + 1] > _tolerance(sizes[i]) for i in range(steps)]
    grew_after = list(itertools.accumulate(reversed(grew)))[::-1]  # growth steps from i on
    shrank_after = list(itertools.accumulate(reversed(shrank)))[::-1]
    largest_after = list(itertools.accumulate(reversed(sizes), max))[::-1]
    start = None
    for i in range(steps):
        if not grew[i]:
            continue
        length = steps - i
        recent = grew_after[steps - max(1, length // 3)]
        if (
            grew_after[i] >= max(MIN_CHECKS - 1, math.ceil(length / 2))
            and shrank_after[i] <= length // 4
            and recent
            and sizes[-1] >= 0.9 * largest_after[i]
        ):
            start = i  # the check before the first growth step of the stretch
            break
    if start is None:
        return None
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
        "objects_walked": history[-1].objects_walked if checks else 0,
        "walk_truncated": history[-1].walk_truncated if checks else False,
        "components_skipped": history[-1].components_skipped if checks else 0,
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
        growth = growth_of(series, counts_exact=False)
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
    report["recommendations"] = _recommendations(entries, report, checks, span) + _census_limits(latest)
    return report


def _census_limits(census: Census) -> list[str]:
    """Say what the latest census could not see."""
    limits = []
    if census.walk_truncated:
        limits.append(
            f"The census walk stopped at its budget ({census.objects_walked} objects examined): "
            "containers held deeper or further along were not measured in this check."
        )
    if census.components_skipped:
        limits.append(
            f"{census.components_skipped} container(s) could not be measured (their len() or iteration "
            "failed) and are left out of this check."
        )
    return limits


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
