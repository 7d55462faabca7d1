import logging
import os
import subprocess
import threading
import time

import psutil
import pytest

from profiling.core.periodic import PeriodicWorker
from profiling.core.readers import PsutilReader, read_rss_anon
from profiling.core.sampler import SystemSampler
from profiling.core.samples import ProcessCpuTimes, SystemCpuTimes
from tests.core.fakes import MIB, FakeClock, FakeReader


def make_sampler(max_samples=5):
    reader, clock, wall = FakeReader(), FakeClock(), FakeClock(1_800_000_000.0)
    sampler = SystemSampler(reader, interval=5.0, max_samples=max_samples, clock=clock, wall_clock=wall)
    return sampler, reader, clock, wall


def test_sampler_cpu_split_over_the_interval_is_exact():
    sampler, reader, clock, wall = make_sampler()
    reader.sys = SystemCpuTimes(user=100.0, system=50.0, idle=800.0, other=0.0)
    reader.proc = ProcessCpuTimes(user=10.0, system=2.0, num_threads=4)
    sampler.prime()
    # 10 s of wall time on 2 cores = 20 CPU seconds: 6 user, 2 system, 12 idle.
    clock.advance(10.0)
    wall.advance(10.0)
    reader.sys = SystemCpuTimes(user=106.0, system=52.0, idle=812.0, other=0.0)
    reader.proc = ProcessCpuTimes(user=14.0, system=3.0, num_threads=5)
    sampler.run_tick()

    sample = sampler.latest()
    assert sample.timestamp == 1_800_000_010.0
    assert sample.cpu.user_percent == 30.0
    assert sample.cpu.system_percent == 10.0
    assert sample.cpu.idle_percent == 60.0
    assert sample.cpu.usage_percent == 40.0
    # 5 process CPU seconds in 10 s: half a core, as top shows it.
    assert sample.cpu.process_cpu_percent == 50.0
    assert sample.cpu.process_user_seconds == 14.0
    assert sample.cpu.process_num_threads == 5
    assert sample.cpu.interval_secs == 10.0
    assert sample.memory.rss == 100 * MIB


def test_sampler_next_interval_is_measured_from_the_previous_sample():
    sampler, reader, clock, _ = make_sampler()
    reader.sys = SystemCpuTimes(user=0.0, system=0.0, idle=0.0, other=0.0)
    sampler.prime()
    clock.advance(5.0)
    reader.sys = SystemCpuTimes(user=10.0, system=0.0, idle=0.0, other=0.0)
    sampler.run_tick()
    clock.advance(5.0)
    reader.sys = SystemCpuTimes(user=10.0, system=0.0, idle=10.0, other=0.0)
    sampler.run_tick()
    assert [s.cpu.usage_percent for s in sampler.history()] == [100.0, 0.0]


def test_sampler_history_is_bounded():
    sampler, reader, clock, _ = make_sampler(max_samples=3)
    sampler.prime()
    for i in range(7):
        clock.advance(5.0)
        reader.rss = i * MIB
        sampler.run_tick()
    assert [s.memory.rss // MIB for s in sampler.history()] == [4, 5, 6]
    assert [s.memory.rss // MIB for s in sampler.history(limit=2)] == [5, 6]


def test_sampler_history_since_filters_by_monotonic_time():
    sampler, _, clock, _ = make_sampler()
    sampler.prime()
    for _ in range(4):
        clock.advance(5.0)
        sampler.run_tick()
    assert len(sampler.history(since_monotonic=clock.now - 10.0)) == 3


def test_sampler_listener_gets_each_sample():
    sampler, _, clock, _ = make_sampler()
    seen = []
    sampler.add_listener(seen.append)
    sampler.prime()
    clock.advance(5.0)
    sampler.run_tick()
    assert seen == [sampler.latest()]


def test_sampler_error_is_logged_once_and_sampling_goes_on(caplog):
    sampler, reader, clock, _ = make_sampler()
    sampler.prime()
    reader.fail_with = PermissionError("psutil.AccessDenied")
    with caplog.at_level(logging.WARNING, logger="profiling.core.periodic"):
        for _ in range(3):
            clock.advance(5.0)
            sampler.run_tick()
    assert sampler.error_count == 3
    assert len([r for r in caplog.records if "tick failed" in r.message]) == 1
    reader.fail_with = None
    clock.advance(5.0)
    sampler.run_tick()
    assert sampler.latest() is not None
    assert sampler.tick_count == 1


def test_sampler_with_the_real_reader_survives_its_proc_entry_vanishing(caplog):
    """psutil raises NoSuchProcess once /proc/<pid> is gone: logged once, counted, sampling goes on."""
    child = subprocess.Popen(["sleep", "60"])
    clock = FakeClock()
    try:
        sampler = SystemSampler(PsutilReader(pid=child.pid), interval=5.0, max_samples=5, clock=clock)
        sampler.prime()
        clock.advance(5.0)
        sampler.run_tick()
        before = sampler.latest()
        assert before is not None and before.memory.rss > 0
    finally:
        child.kill()
        child.wait(10)
    assert not os.path.exists(f"/proc/{child.pid}")
    assert read_rss_anon(f"/proc/{child.pid}/status") is None  # a vanished file is "unknown", not an error
    with caplog.at_level(logging.WARNING, logger="profiling.core.periodic"):
        for _ in range(3):
            clock.advance(5.0)
            sampler.run_tick()  # raises nothing
    assert sampler.error_count == 3
    assert sampler.tick_count == 1
    assert sampler.latest() is before
    failures = [r for r in caplog.records if "tick failed" in r.message]
    assert len(failures) == 1
    assert isinstance(failures[0].exc_info[1], psutil.NoSuchProcess)
    assert sampler.last_error.startswith("NoSuchProcess")


def test_sampler_current_measures_now_before_the_first_interval():
    sampler, reader, clock, _ = make_sampler()
    reader.sys = SystemCpuTimes(user=0.0, system=0.0, idle=0.0, other=0.0)
    sampler.prime()
    clock.advance(1.0)
    reader.sys = SystemCpuTimes(user=1.0, system=0.0, idle=1.0, other=0.0)
    current = sampler.current()
    assert current.cpu.usage_percent == 50.0
    assert current.cpu.interval_secs == 1.0
    assert sampler.latest() is None  # measured, not stored
    assert current.cpu.measured is True


def test_if_no_interval_has_ended_then_the_cpu_figures_are_not_measured():
    sampler, reader, clock, _ = make_sampler()
    current = sampler.current()  # no baseline yet: primed and measured at the same instant
    assert current.cpu.interval_secs == 0.0
    assert current.cpu.measured is False


def test_if_the_system_cpu_clocks_did_not_advance_then_the_figures_are_not_measured():
    sampler, reader, clock, _ = make_sampler()
    reader.sys = SystemCpuTimes(user=1.0, system=1.0, idle=1.0, other=0.0)
    sampler.prime()
    clock.advance(5.0)
    sampler.tick()
    latest = sampler.latest()
    assert latest.cpu.measured is False
    clock.advance(5.0)
    reader.sys = SystemCpuTimes(user=2.0, system=1.0, idle=2.0, other=0.0)
    sampler.tick()
    assert sampler.latest().cpu.measured is True


class CountingWorker(PeriodicWorker):
    thread_name = "riptide-test-worker"

    def __init__(self):
        super().__init__(interval=0.01)
        self.ticked = threading.Event()
        self.calls = 0

    def tick(self):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("first tick fails")
        self.ticked.set()


def test_periodic_worker_survives_an_error_and_stops_cleanly():
    worker = CountingWorker()
    worker.start()
    worker.start()  # idempotent
    try:
        assert worker.ticked.wait(5.0)
        assert worker.error_count == 1
        assert worker.running
    finally:
        worker.stop()
    assert not worker.running


def test_periodic_worker_rejects_a_non_positive_interval():
    with pytest.raises(ValueError):
        SystemSampler(FakeReader(), interval=0, max_samples=1)


class SkippingWorker(PeriodicWorker):
    """Ticks every 20 ms, but asks for three intervals to its next tick."""

    thread_name = "riptide-test-skipping"

    def __init__(self):
        super().__init__(interval=0.02)
        self.times: list[float] = []
        self.done = threading.Event()

    def tick(self):
        self.times.append(time.monotonic())
        if len(self.times) == 4:
            self.done.set()

    def slots_to_next_tick(self) -> int:
        return 3


def test_periodic_worker_waits_the_intervals_a_tick_asks_for():
    worker = SkippingWorker()
    worker.start()
    try:
        assert worker.done.wait(5.0)
    finally:
        worker.stop()
    # No tick comes before it is due: the fourth is due nine intervals (0.18 s) after the first
    # was, 0.06 s with one interval a tick; the first may have come late by up to 0.06 s.
    assert worker.times[3] - worker.times[0] >= 0.12, worker.times
