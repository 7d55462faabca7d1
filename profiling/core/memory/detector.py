"""The leak detector: a bounded census history, one analysis at a time, the newest report kept."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from profiling.core.memory.census import Census
from profiling.core.memory.leaks import analyse

# 96 checks: 8 hours at the default 300 s; each keeps at most MAX_COMPONENTS + MAX_TYPES measures.
MAX_HISTORY = 96


class LeakDetector:
    """Keep the last `max_history` censuses; every check adds one and analyses them all.

    A background check (`check()`) and a request (`detect()`) both leave a report, so the
    latest report is the newest, whichever made it (its `trigger` says which). One census
    and analysis runs at a time (a lock). A request that arrives while an analysis is
    running waits for it and returns its report instead of running another.
    """

    def __init__(
        self,
        census: Callable[[], Census],
        *,
        interval_secs: float,
        max_history: int = MAX_HISTORY,
        wall_clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        on_report: Callable[[dict], None] | None = None,
    ):
        self._census = census
        self.interval_secs = interval_secs
        self._history: deque[Census] = deque(maxlen=max_history)
        self._lock = threading.Lock()
        self._generation = 0
        self._latest: dict | None = None
        self._wall_clock = wall_clock
        self._timer = timer
        self._on_report = on_report

    def _check_and_analyse(self, trigger: str | None) -> tuple[Census, dict | None]:
        """Take a census, add it and (with a trigger) analyse the history; the caller holds the lock."""
        started = self._timer()
        census = self._census()
        self._history.append(census)
        if trigger is None:
            return census, None
        report = analyse(list(self._history), interval_secs=self.interval_secs, now=self._wall_clock())
        report["trigger"] = trigger
        report["analysis_duration_ms"] = round((self._timer() - started) * 1000, 3)
        report["census_duration_ms"] = census.duration_ms
        self._latest = report
        self._generation += 1
        return census, report

    def check(self, *, analyse: bool = True) -> Census:
        """Take a census, add it to the history and analyse (the background worker's tick).

        `analyse=False` for the baseline taken at start: one check alone says nothing.
        """
        with self._lock:
            census, report = self._check_and_analyse("background" if analyse else None)
        if report is not None and self._on_report is not None:
            self._on_report(report)
        return census

    def detect(self) -> dict:
        """Add a fresh census and analyse the history; share a concurrent analysis's report."""
        generation = self._generation
        with self._lock:
            if self._generation != generation and self._latest is not None:
                return self._latest
            _, report = self._check_and_analyse("request")
        assert report is not None
        if self._on_report is not None:
            self._on_report(report)
        return report

    def latest(self) -> dict | None:
        """The newest report (a request's or a background check's), without running a new analysis."""
        return self._latest

    def history(self) -> list[Census]:
        return list(self._history)
