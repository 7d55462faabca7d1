"""The validated settings handed to the core, and the process's runtime."""

from __future__ import annotations

from profiling.cluster import WORKER_NAME
from profiling.core.assembly import default_workers
from profiling.core.config import MIB, ProfilingConfig
from profiling.core.runtime import ProfilingRuntime, get_runtime
from profiling.settings import profiling_settings


def profiling_config() -> ProfilingConfig:
    """Build the core's configuration from the app's settings."""
    values = profiling_settings.load()
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
        sampler_max_cpu_percent=values["SAMPLER_MAX_CPU_PERCENT"],
    )


def build_runtime() -> ProfilingRuntime:
    """A runtime from settings; with REDIS_URL it also runs the cross-instance link."""
    workers = default_workers()
    if profiling_settings.REDIS_URL:
        workers[WORKER_NAME] = cluster_link
    return ProfilingRuntime(profiling_config(), workers=workers)


def cluster_link(runtime: ProfilingRuntime):
    """The cross-instance link (needs the `redis` extra), wired to this process's live feed."""
    from profiling.cluster.link import ClusterLink, layer_config
    from profiling.feed import deliver_to_current_feed

    return ClusterLink(
        runtime,
        redis_url=profiling_settings.REDIS_URL,
        layer_config=layer_config(profiling_settings.REDIS_URL, profiling_settings.KEY_PREFIX),
        key_prefix=profiling_settings.KEY_PREFIX,
        timeout_secs=profiling_settings.INSTANCE_TIMEOUT_SECS,
        deliver=deliver_to_current_feed,
    )


def runtime() -> ProfilingRuntime:
    """The process's profiling runtime (created from settings on first use, not started)."""
    return get_runtime(build_runtime)


def rate_for(scope: str) -> str:
    """The throttle rate of an endpoint scope: its own or the default one."""
    return profiling_settings.rate_for(scope)
