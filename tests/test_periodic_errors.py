"""A failing periodic task logs each distinct error once, and past the cap one summary a minute."""

from __future__ import annotations

import logging

import pytest

from profiling.core.periodic import PeriodicWorker


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FailingWorker(PeriodicWorker):
    thread_name = "riptide-test-failing"

    def __init__(self, messages: int, clock):
        super().__init__(1.0, clock=clock)
        self.messages = messages
        self.calls = 0

    def tick(self) -> None:
        self.calls += 1
        raise RuntimeError(f"failure number {self.calls % self.messages}")


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING, logger="profiling.core.periodic")
    return lambda: [r for r in caplog.records if r.name == "profiling.core.periodic"]


def test_600_errors_with_60_messages_log_each_of_50_once_and_one_summary(warnings):
    clock = FakeClock()
    worker = FailingWorker(60, clock)
    for _ in range(600):
        worker.run_tick()
        clock.now += 0.05  # 600 ticks in 30 s: within one minute
    records = warnings()
    assert len(records) == 51
    assert all(r.exc_info for r in records[:50])
    summary = records[50].getMessage()
    assert summary.startswith("riptide-test-failing: 1 more tick errors")
    assert worker.error_count == 600
    assert worker.unlogged_error_count == 600 - 500  # 10 of every 60 messages are past the cap


def test_the_summary_comes_again_after_a_minute_with_the_count_since(warnings):
    clock = FakeClock()
    worker = FailingWorker(60, clock)
    for _ in range(60):
        worker.run_tick()
    assert len(warnings()) == 51
    clock.now += 59.9
    for _ in range(60):
        worker.run_tick()  # ten more past the cap, still inside the minute
    assert len(warnings()) == 51
    clock.now += 0.1
    worker.run_tick()  # a message already logged: counted only
    worker.calls = 54  # the next one raises "failure number 55", past the cap
    worker.run_tick()
    records = warnings()
    assert len(records) == 52
    message = records[51].getMessage()
    assert "20 more tick errors" in message  # 9 + 10 + this one since the first summary
    assert "(122 in all so far" in message
    assert message.endswith("the latest: RuntimeError: failure number 55")


def test_identical_errors_are_counted_not_logged(warnings):
    clock = FakeClock()
    worker = FailingWorker(1, clock)
    for _ in range(100):
        worker.run_tick()
    assert len(warnings()) == 1
    assert worker.error_count == 100
    assert worker.last_error == "RuntimeError: failure number 0"
