"""What the samplers measure: immutable readings and the samples built from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MemoryReading:
    """Bytes, as the OS reports them; None where the platform does not say."""

    rss: int
    vms: int
    shared: int | None
    anon: int | None  # RssAnon: heap, arenas and anonymous mappings


@dataclass(frozen=True, slots=True)
class SystemCpuTimes:
    """Cumulative system-wide CPU seconds, summed over all cores."""

    user: float
    system: float
    idle: float
    other: float  # steal, guest and anything not in the three above

    @property
    def total(self) -> float:
        return self.user + self.system + self.idle + self.other


@dataclass(frozen=True, slots=True)
class ProcessCpuTimes:
    """Cumulative CPU seconds of this process and its thread count."""

    user: float
    system: float
    num_threads: int


@dataclass(frozen=True, slots=True)
class CpuFigures:
    """CPU use over one interval between two readings."""

    interval_secs: float
    usage_percent: float
    user_percent: float
    system_percent: float
    idle_percent: float
    load_average: tuple[float, float, float] | None
    process_cpu_percent: float
    process_user_seconds: float
    process_system_seconds: float
    process_num_threads: int
    # False when the interval had no length or the system's CPU clocks did not advance:
    # the percentages above are then placeholders, not measurements.
    measured: bool = True


@dataclass(frozen=True, slots=True)
class Sample:
    """One memory and CPU sample of the process, taken at `timestamp` (unix seconds)."""

    timestamp: float
    monotonic: float
    memory: MemoryReading
    cpu: CpuFigures
