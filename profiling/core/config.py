"""The profiler's configuration: plain values, validated by the caller (Django settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


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
    sample_hz: float = 11.0

    def __post_init__(self) -> None:
        if self.memory_interval_secs <= 0:
            raise ValueError("memory_interval_secs must be positive")
        if not 0 < self.sample_hz <= 1000:
            raise ValueError("sample_hz must be in (0, 1000]")
        if self.memory_warning_mb > self.memory_alert_mb:
            raise ValueError("the memory warning threshold must not exceed the alert threshold")
        if self.history_max_samples <= 0:
            per_hour = int(3600 / self.memory_interval_secs)
            object.__setattr__(self, "history_max_samples", max(120, min(per_hour, 7200)))
