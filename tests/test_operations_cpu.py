"""The profiler's work on request threads counts as the profiler's CPU (the overhead ratio)."""

from __future__ import annotations

import time

from profiling.cluster import operations
from tests.conftest import make_runtime


def _burn(runtime, args):
    end = time.thread_time() + args["secs"]
    while time.thread_time() < end:
        pass
    return {}


def test_an_operation_charges_the_cpu_it_used(monkeypatch):
    runtime = make_runtime()
    monkeypatch.setitem(operations.OPERATIONS, "burn", _burn)
    before = runtime.profiler_cpu_seconds()
    started = time.thread_time()
    operations.run(runtime, "burn", {"secs": 0.05})
    used = time.thread_time() - started
    assert 0.05 <= runtime.charged_cpu_seconds <= used
    assert runtime.profiler_cpu_seconds() - before == runtime.charged_cpu_seconds


def test_a_failing_operation_is_charged_too(monkeypatch):
    runtime = make_runtime()

    def fail(runtime, args):
        _burn(runtime, {"secs": 0.02})
        raise RuntimeError("inside the core")

    monkeypatch.setitem(operations.OPERATIONS, "fail", fail)
    try:
        operations.run(runtime, "fail")
    except RuntimeError:
        pass
    assert runtime.charged_cpu_seconds >= 0.02


def test_a_forked_child_starts_from_zero():
    runtime = make_runtime()
    runtime.charge_cpu(1.5)
    runtime.charge_cpu(-1.0)  # nothing negative is ever counted
    assert runtime.charged_cpu_seconds == 1.5
    runtime.after_fork_in_child()
    assert runtime.charged_cpu_seconds == 0.0
