"""Exact call counts over a bounded deterministic window (PROFILING_FULL), with a fake timer."""

from __future__ import annotations

import sys

from profiling.core.stacks.exact import ExactCallCounter, all_threads_installer
from profiling.core.stacks.labels import CodeLabeler
from tests.core.stackfakes import ROOT


def counted(n):
    return n + 1


def caller(times):
    return [counted(i) for i in range(times)]


class Ticker:
    """A timer that advances 1 µs per reading."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1e-6
        return self.now


def make_counter(clock):
    return ExactCallCounter(
        CodeLabeler(project_root=str(ROOT)),
        installer=(sys.setprofile, lambda: sys.setprofile(None)),
        window_secs=2.0,
        max_age_secs=60.0,
        clock=lambda: clock[0],
        wall_clock=lambda: 1_800_000_000.0,
        timer=Ticker(),
    )


def test_exact_counter_counts_every_completed_call_in_the_window():
    clock = [100.0]
    counter = make_counter(clock)
    try:
        assert counter.results()[0] is None  # stale: starts a window, nothing complete yet
        assert counter.running
        caller(7)
    finally:
        sys.setprofile(None)
    clock[0] = 101.0
    counter.poll()
    assert counter.running  # not over yet
    clock[0] = 102.0
    counter.poll()
    assert not counter.running
    exact, note = counter.results()
    assert exact[f"{__name__}.counted"][0] == 7
    # one timer reading at the call, one at the return: 1 µs each
    assert abs(exact[f"{__name__}.counted"][1] - 7e-6) < 1e-12
    assert exact[f"{__name__}.caller"][0] == 1
    assert "exact over a 2 s deterministic window" in note


def test_exact_counter_starts_a_new_window_only_when_stale():
    clock = [0.0]
    counter = make_counter(clock)
    try:
        counter.start()
        assert not counter.start()  # one window at a time
    finally:
        counter.finish()
    clock[0] = 30.0
    counter.results()
    assert not counter.running
    clock[0] = 100.0
    try:
        counter.results()
        assert counter.running
    finally:
        counter.finish()


def test_exact_counter_without_an_all_threads_hook_says_so():
    counter = ExactCallCounter(CodeLabeler(project_root=str(ROOT)), installer=None)
    exact, note = counter.results()
    assert exact is None and "Python 3.12+" in note
    assert (all_threads_installer() is None) == (sys.version_info < (3, 12))
