"""The validated settings object handed to the core, and the process's runtime."""

from __future__ import annotations

from django.conf import settings

from profiling.core.config import MIB, ProfilingConfig
from profiling.core.runtime import ProfilingRuntime, get_runtime


def profiling_config() -> ProfilingConfig:
    """Build the core's configuration from `settings.PROFILING`."""
    values = settings.PROFILING
    return ProfilingConfig(
        enabled=values["ENABLED"],
        memory_interval_secs=values["MEMORY_INTERVAL_SECS"],
        leak_check_interval_secs=values["LEAK_CHECK_INTERVAL_SECS"],
        memory_warning_mb=values["MEMORY_WARNING_MB"],
        memory_alert_mb=values["MEMORY_ALERT_MB"],
        full=values["FULL"],
        snapshot_dir=values["SNAPSHOT_DIR"],
        snapshot_max_count=values["SNAPSHOT_MAX_COUNT"],
        snapshot_max_total_bytes=int(values["SNAPSHOT_MAX_TOTAL_MB"] * MIB),
        sample_hz=values["SAMPLE_HZ"],
    )


def build_runtime() -> ProfilingRuntime:
    """A runtime from settings; with REDIS_URL it also runs the cross-instance link."""
    factories = {}
    if settings.REDIS_URL:
        from profiling.cluster.link import cluster_link_worker

        factories["cluster"] = cluster_link_worker
    return ProfilingRuntime(profiling_config(), added_workers=factories)


def runtime() -> ProfilingRuntime:
    """The process's profiling runtime (created from settings on first use, not started)."""
    return get_runtime(build_runtime)


def rate_for(scope: str) -> str:
    """The throttle rate of an endpoint scope: its own or the default one."""
    rates = settings.PROFILING_RATES
    return rates.get(scope, rates["default"])
