"""The memory and CPU sampler: one sample per interval into a bounded history."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from profiling.core.periodic import PeriodicWorker
from profiling.core.readers import SystemReader
from profiling.core.samples import CpuFigures, ProcessCpuTimes, Sample, SystemCpuTimes


def _percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def cpu_between(
    sys_before: SystemCpuTimes,
    sys_after: SystemCpuTimes,
    proc_before: ProcessCpuTimes,
    proc_after: ProcessCpuTimes,
    wall_secs: float,
    load_average: tuple[float, float, float] | None,
) -> CpuFigures:
    """Return the CPU split of the system and this process between two readings."""
    d_user = max(0.0, sys_after.user - sys_before.user)
    d_system = max(0.0, sys_after.system - sys_before.system)
    d_idle = max(0.0, sys_after.idle - sys_before.idle)
    d_other = max(0.0, sys_after.other - sys_before.other)
    total = d_user + d_system + d_idle + d_other
    idle_percent = _percent(d_idle, total) if total > 0 else 100.0
    proc_delta = max(0.0, (proc_after.user + proc_after.system) - (proc_before.user + proc_before.system))
    return CpuFigures(
        interval_secs=round(wall_secs, 3),
        usage_percent=round(100.0 - idle_percent, 2),
        user_percent=_percent(d_user, total),
        system_percent=_percent(d_system, total),
        idle_percent=idle_percent,
        load_average=load_average,
        process_cpu_percent=round(100.0 * proc_delta / wall_secs, 2) if wall_secs > 0 else 0.0,
        process_user_seconds=round(proc_after.user, 3),
        process_system_seconds=round(proc_after.system, 3),
        process_num_threads=proc_after.num_threads,
        measured=wall_secs > 0 and total > 0,
    )


class SystemSampler(PeriodicWorker):
    """Take a memory and CPU sample every interval and keep the last `max_samples`.

    The sampler thread only writes to its own deque under a short lock; readers get
    copies. Listeners (e.g. the live feed) are called with each new sample on the
    sampler thread and must only hand it over, never block.
    """

    thread_name = "riptide-system-sampler"

    def __init__(
        self,
        reader: SystemReader,
        interval: float,
        max_samples: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        super().__init__(interval, clock=clock)
        self.reader = reader
        self._wall_clock = wall_clock
        self._history: deque[Sample] = deque(maxlen=max_samples)
        self._history_lock = threading.Lock()
        self._baseline: tuple[float, SystemCpuTimes, ProcessCpuTimes] | None = None
        self._listeners: list[Callable[[Sample], None]] = []

    def add_listener(self, listener: Callable[[Sample], None]) -> None:
        self._listeners.append(listener)

    def on_start(self) -> None:
        self.prime()

    def prime(self) -> None:
        """Take the CPU baseline the first interval is measured from."""
        self._baseline = (self._clock(), self.reader.system_cpu(), self.reader.process_cpu())

    def measure(self) -> Sample:
        """Measure a sample now against the baseline, without storing it."""
        return self._measure()[0]

    def _measure(self) -> tuple[Sample, tuple[float, SystemCpuTimes, ProcessCpuTimes]]:
        if self._baseline is None:
            self.prime()
        assert self._baseline is not None
        before_mono, sys_before, proc_before = self._baseline
        now_mono = self._clock()
        sys_after = self.reader.system_cpu()
        proc_after = self.reader.process_cpu()
        memory = self.reader.memory()
        cpu = cpu_between(
            sys_before,
            sys_after,
            proc_before,
            proc_after,
            now_mono - before_mono,
            self.reader.load_average(),
        )
        sample = Sample(timestamp=self._wall_clock(), monotonic=now_mono, memory=memory, cpu=cpu)
        return sample, (now_mono, sys_after, proc_after)

    def tick(self) -> None:
        sample, baseline = self._measure()
        self._baseline = baseline
        with self._history_lock:
            self._history.append(sample)
        for listener in list(self._listeners):
            listener(sample)

    # -- readers ---------------------------------------------------------------------

    def latest(self) -> Sample | None:
        with self._history_lock:
            return self._history[-1] if self._history else None

    def history(self, since_monotonic: float | None = None, limit: int | None = None) -> list[Sample]:
        """Return stored samples, oldest first, optionally only those newer than a time."""
        with self._history_lock:
            samples = list(self._history)
        if since_monotonic is not None:
            samples = [s for s in samples if s.monotonic >= since_monotonic]
        if limit is not None:
            samples = samples[-limit:]
        return samples

    def current(self) -> Sample:
        """The latest stored sample, or one measured now if none has been stored yet."""
        latest = self.latest()
        if latest is not None:
            return latest
        return self.measure()
