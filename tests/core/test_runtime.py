import os
import threading

import pytest

from profiling.core.config import ProfilingConfig
from profiling.core.errors import ProfilingDisabledError, ProfilingNotRunningError
from profiling.core.runtime import ProfilingRuntime
from tests.core.fakes import MIB, FakeClock, FakeReader


def make(enabled=True, reader=None):
    reader = reader or FakeReader()
    config = ProfilingConfig(
        enabled=enabled, memory_interval_secs=0.01, memory_warning_mb=650, memory_alert_mb=700
    )
    return ProfilingRuntime(config, reader_factory=lambda: reader), reader


def sampler_threads():
    return [t for t in threading.enumerate() if t.name == "riptide-system-sampler"]


def test_runtime_ensure_running_starts_one_sampler_once():
    runtime, _ = make()
    try:
        runtime.ensure_running()
        runtime.ensure_running()
        assert runtime.running
        assert len(sampler_threads()) == 1
        assert runtime.instance == f"{os.uname().nodename}:{os.getpid()}"
    finally:
        runtime.stop()
    assert not runtime.running
    assert sampler_threads() == []


def test_runtime_disabled_starts_nothing_and_refuses_reports():
    runtime, _ = make(enabled=False)
    runtime.ensure_running()
    assert runtime.workers == {}
    with pytest.raises(ProfilingDisabledError):
        runtime.memory_report()


def test_runtime_not_started_refuses_reports():
    runtime, _ = make()
    with pytest.raises(ProfilingNotRunningError):
        runtime.cpu_report()


def test_runtime_publishes_an_alert_when_the_threshold_status_changes():
    reader = FakeReader()
    runtime, _ = make(reader=reader)
    runtime.reader = reader
    events = []
    runtime.add_event_listener(events.append)
    from profiling.core.sampler import SystemSampler

    clock = FakeClock()
    runtime.system_sampler = SystemSampler(
        reader, 1.0, 10, clock=clock, wall_clock=FakeClock(1_800_000_000.0)
    )
    runtime.system_sampler.add_listener(runtime._dispatch)
    runtime.system_sampler.prime()
    for rss in (100, 100, 660, 660, 710, 100):
        reader.rss = rss * MIB
        clock.advance(1.0)
        runtime.system_sampler.run_tick()
    assert [(e["previous_status"], e["threshold_status"]) for e in events] == [
        ("normal", "warning"),
        ("warning", "critical"),
        ("critical", "normal"),
    ]
    assert events[0]["type"] == "alert"
    assert events[0]["rss_mb"] == 660.0
    assert events[0]["thresholds"] == {"warning_mb": 650, "alert_mb": 700}


def test_runtime_overhead_ratio_is_profiler_cpu_over_process_cpu():
    runtime, reader = make()
    from profiling.core.samples import ProcessCpuTimes

    runtime.reader = reader
    reader.proc = ProcessCpuTimes(user=8.0, system=2.0, num_threads=3)

    class Worker:
        cpu_seconds = 0.05

    runtime.workers = {"a": Worker(), "b": Worker()}
    assert runtime.overhead_ratio() == pytest.approx(0.01)


def test_runtime_forked_child_starts_its_own_sampler():
    runtime, _ = make()
    from profiling.core import runtime as module

    previous = module.install(runtime)
    runtime.ensure_running()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # child: the parent's sampler thread did not survive the fork
            try:
                before = runtime.running
                runtime.ensure_running()
                after = runtime.running and len(sampler_threads()) == 1
                alive = runtime.instance.endswith(f":{os.getpid()}")
                os.write(write_end, f"{before},{after},{alive}".encode())
                runtime.stop()
            finally:
                os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        result = os.read(read_end, 100).decode()
        assert result == "False,True,True"
        assert runtime.running  # the parent's sampler is untouched
    finally:
        os.close(read_end)
        runtime.stop()
        module.install(previous)


def test_runtime_create_workers_builds_them_without_threads_and_uses_given_factories():
    from profiling.core.periodic import PeriodicWorker

    class Idle(PeriodicWorker):
        def tick(self) -> None:
            pass

    clock = FakeClock(50.0)
    config = ProfilingConfig(memory_interval_secs=0.01)
    runtime = ProfilingRuntime(
        config,
        reader_factory=FakeReader,
        clock=clock,
        wall_clock=lambda: 1_700_000_000.0,
        workers={"idle": lambda rt: Idle(1.0)},
    )
    workers = runtime.create_workers()
    assert set(workers) == {"system", "idle"}
    assert not any(worker.running for worker in workers.values())
    assert sampler_threads() == []
    assert not runtime.running
    assert runtime.started_at == 1_700_000_000.0
    workers["system"].run_tick()
    assert workers["system"].latest().monotonic == 50.0


def test_runtime_leak_checks_read_the_runtime_clocks(tmp_path):
    from profiling.core.memory.service import memory_analysis

    clock = FakeClock(123.0)
    config = ProfilingConfig(memory_interval_secs=0.01, snapshot_dir=tmp_path)
    runtime = ProfilingRuntime(
        config,
        reader_factory=FakeReader,
        clock=clock,
        wall_clock=lambda: 1_700_000_000.0,
    )
    runtime.create_workers()
    census = memory_analysis(runtime).leaks.check()
    assert (census.monotonic, census.timestamp) == (123.0, 1_700_000_000.0)
    assert census.rss_bytes == 100 * MIB


def test_runtime_builds_a_samples_message_once_and_each_new_samples_anew():
    runtime, _ = make()
    runtime.ensure_running()
    try:
        first, second = runtime.system_sampler.measure(), runtime.system_sampler.measure()
        message = runtime.sample_message(first)
        assert runtime.sample_message(first) is message  # the feed, the link and /metrics share it
        assert runtime.sample_message(second) is not message
        runtime.instance = "renamed:1"
        assert runtime.sample_message(second)["instance"] == "renamed:1"
    finally:
        runtime.stop()
