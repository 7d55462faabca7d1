"""The profiler's configuration: plain values, validated by the caller (Django settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
DEFAULT_SAMPLE_HZ = 11.0
# The stack sampler's own CPU budget at the default rate, in % of the process's CPU.
DEFAULT_SAMPLER_CPU_PERCENT = 0.4


def sampler_budget(percent: float | None, sample_hz: float) -> float:
    """The stack sampler's CPU budget (% of the process's CPU): as set, else the default's share of the rate.

    A raised sample rate raises the default budget with it, so a rate a user asks for is
    kept unless the ticks cost more than they would at the default rate.
    """
    if percent is not None:
        return percent
    return min(100.0, DEFAULT_SAMPLER_CPU_PERCENT * sample_hz / DEFAULT_SAMPLE_HZ)


@dataclass(frozen=True)
class ProfilingConfig:
    enabled: bool = True
    memory_interval_secs: float = 5.0
    leak_check_interval_secs: float = 300.0
    memory_warning_mb: float = 650.0
    memory_alert_mb: float = 700.0
    full: bool = False
    snapshot_dir: Path = field(default_factory=lambda: Path("var/snapshots"))
    snapshot_max_count: int = 20
    # The total size of the kept snapshots; the oldest are deleted beyond it.
    snapshot_max_total_bytes: int = 512 * MIB
    # Seconds of samples the RSS growth slope is fitted over.
    growth_window_secs: float = 60.0
    # Samples of memory/CPU kept per process: an hour at the interval, within bounds.
    history_max_samples: int = 0
    # Stack samples per second of every thread (the bottlenecks profiler).
    sample_hz: float = DEFAULT_SAMPLE_HZ
    # The stack sampler's own CPU budget in % of the process's CPU; ticks past it are skipped.
    # None: the default budget's share of sample_hz (see sampler_budget).
    sampler_max_cpu_percent: float | None = None

    def __post_init__(self) -> None:
        if self.memory_interval_secs <= 0:
            raise ValueError("memory_interval_secs must be positive")
        if not 0 < self.sample_hz <= 1000:
            raise ValueError("sample_hz must be in (0, 1000]")
        budget = sampler_budget(self.sampler_max_cpu_percent, self.sample_hz)
        if not 0 < budget <= 100:
            raise ValueError("sampler_max_cpu_percent must be in (0, 100]")
        object.__setattr__(self, "sampler_max_cpu_percent", budget)
        if self.memory_warning_mb > self.memory_alert_mb:
            raise ValueError("the memory warning threshold must not exceed the alert threshold")
        if self.history_max_samples <= 0:
            per_hour = int(3600 / self.memory_interval_secs)
            object.__setattr__(self, "history_max_samples", max(120, min(per_hour, 7200)))
