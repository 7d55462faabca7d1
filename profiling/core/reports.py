"""Turn samples into the memory and CPU reports the API, the feed and metrics share."""

from __future__ import annotations

from collections.abc import Sequence

from profiling.core.config import MIB, ProfilingConfig
from profiling.core.samples import MemoryReading, Sample
from profiling.core.series import least_squares_slope
from profiling.core.timefmt import iso_utc

# RSS growth faster than this, sustained over at least MIN_GROWTH_SPAN_SECS of
# samples, is worth a warning sentence on its own.
FAST_GROWTH_MB_PER_SEC = 1.0
MIN_GROWTH_SPAN_SECS = 10.0

HEAP_NOTE = "heap_mb is unavailable: this platform does not report RssAnon."


def _mb(n_bytes: int | None) -> float | None:
    return None if n_bytes is None else round(n_bytes / MIB, 3)


def threshold_status(rss_mb: float, config: ProfilingConfig) -> str:
    if rss_mb > config.memory_alert_mb:
        return "critical"
    if rss_mb >= config.memory_warning_mb:
        return "warning"
    return "normal"


def growth_rate(points: Sequence[tuple[float, float]]) -> tuple[float | None, float]:
    """Return (slope in MB/s of (seconds, bytes) points, seconds they span)."""
    if len(points) < 2:
        return None, 0.0
    slope = least_squares_slope(points)
    span = points[-1][0] - points[0][0]
    return (None if slope is None else slope / MIB), span


def memory_report(
    reading: MemoryReading,
    timestamp: float,
    monotonic: float,
    history: Sequence[Sample],
    config: ProfilingConfig,
) -> dict:
    """Build the memory endpoint's body from a reading and the recent history."""
    since = monotonic - config.growth_window_secs
    points = [(s.monotonic, float(s.memory.rss)) for s in history if s.monotonic >= since]
    if not points or monotonic > points[-1][0]:
        points.append((monotonic, float(reading.rss)))
    slope, span = growth_rate(points)
    rss_mb = reading.rss / MIB
    status = threshold_status(rss_mb, config)
    warnings = []
    if status == "critical":
        warnings.append(
            f"RSS {rss_mb:.1f} MB is above the critical threshold of {config.memory_alert_mb:g} MB."
        )
    elif status == "warning":
        warnings.append(
            f"RSS {rss_mb:.1f} MB is above the warning threshold of {config.memory_warning_mb:g} MB."
        )
    if slope is not None and span >= MIN_GROWTH_SPAN_SECS and slope >= FAST_GROWTH_MB_PER_SEC:
        sentence = f"RSS is growing fast: {slope:.2f} MB/s over the last {span:.0f} s."
        if rss_mb < config.memory_alert_mb:
            minutes = (config.memory_alert_mb - rss_mb) / slope / 60.0
            sentence += f" At this rate it crosses the critical threshold in {minutes:.1f} min."
        warnings.append(sentence)
    return {
        "timestamp": iso_utc(timestamp),
        "rss_mb": _mb(reading.rss),
        "heap_mb": _mb(reading.anon),
        "virtual_mb": _mb(reading.vms),
        "resident_mb": _mb(reading.rss),
        "shared_mb": _mb(reading.shared),
        "growth_rate_mb_per_sec": None if slope is None else round(slope, 6),
        "growth_window_secs": round(span, 3),
        "threshold_status": status,
        "warnings": warnings,
        "note": HEAP_NOTE if reading.anon is None else None,
    }


def cpu_report(sample: Sample, config: ProfilingConfig) -> dict:
    """Build the CPU endpoint's body from one sample."""
    cpu = sample.cpu
    load = cpu.load_average
    note = None
    if not config.full:
        note = (
            f"CPU figures are sampled every {config.memory_interval_secs:g} s. "
            "PROFILING_FULL does not change these figures; on Python 3.12+ it adds exact call "
            "counts to the bottlenecks report."
        )
    return {
        "timestamp": iso_utc(sample.timestamp),
        "cpu_usage_percent": cpu.usage_percent,
        "user_time_percent": cpu.user_percent,
        "system_time_percent": cpu.system_percent,
        "idle_time_percent": cpu.idle_percent,
        "load_average": None
        if load is None
        else {"one_min": round(load[0], 2), "five_min": round(load[1], 2), "fifteen_min": round(load[2], 2)},
        "available": cpu.measured,
        "interval_secs": cpu.interval_secs,
        "process": {
            "cpu_percent": cpu.process_cpu_percent,
            "user_seconds": cpu.process_user_seconds,
            "system_seconds": cpu.process_system_seconds,
            "num_threads": cpu.process_num_threads,
        },
        "note": note,
    }
