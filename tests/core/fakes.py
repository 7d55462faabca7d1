"""Injected readers and clocks for exact-value core tests."""

from __future__ import annotations

from profiling.core.samples import MemoryReading, ProcessCpuTimes, SystemCpuTimes

MIB = 1024 * 1024


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeReader:
    """Returns the readings the test sets; counts calls; can be told to fail."""

    def __init__(self):
        self.rss = 100 * MIB
        self.vms = 400 * MIB
        self.shared = 10 * MIB
        self.anon = 80 * MIB
        self.sys = SystemCpuTimes(user=0.0, system=0.0, idle=0.0, other=0.0)
        self.proc = ProcessCpuTimes(user=0.0, system=0.0, num_threads=3)
        self.load = (0.5, 0.25, 0.125)
        self.fail_with: Exception | None = None

    def memory(self) -> MemoryReading:
        if self.fail_with is not None:
            raise self.fail_with
        return MemoryReading(rss=self.rss, vms=self.vms, shared=self.shared, anon=self.anon)

    def process_cpu(self) -> ProcessCpuTimes:
        return self.proc

    def system_cpu(self) -> SystemCpuTimes:
        return self.sys

    def load_average(self):
        return self.load
