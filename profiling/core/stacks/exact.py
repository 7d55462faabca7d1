"""Exact call counts and durations (PROFILING_FULL): deterministic profiling of a bounded window.

A profile hook on every thread counts each completed Python call and its inclusive
duration, for `window_secs` at most, started when someone asks for the bottlenecks
and the last window is older than `max_age_secs`. It costs what a profile hook
costs (about 2.3x on pure-Python code, docs/bottlenecks.md), so it never runs
outside such a window. The hook reaches threads that already run through
`threading.setprofile_all_threads` (Python 3.12+); on older interpreters there is
no such API and the report says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType

from profiling.core.stacks.labels import CodeLabeler
from profiling.core.timefmt import iso_utc

Hook = Callable[[FrameType, str, object], None]
Installer = tuple[Callable[[Hook], None], Callable[[], None]]  # (install on all threads, remove)


def all_threads_installer() -> Installer | None:
    """Install/remove a profile hook on every thread, or None where Python cannot."""
    set_all = getattr(threading, "setprofile_all_threads", None)
    if set_all is None:
        return None
    return (lambda hook: set_all(hook), lambda: set_all(None))


class ExactCallCounter:
    """Count completed calls per function over a bounded window, on demand."""

    def __init__(
        self,
        labeler: CodeLabeler,
        *,
        installer: Installer | None = None,
        window_secs: float = 2.0,
        max_age_secs: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.labeler = labeler
        self.installer = installer
        self.window_secs = window_secs
        self.max_age_secs = max_age_secs
        self._clock = clock
        self._wall_clock = wall_clock
        self._timer = timer
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._counts: dict[CodeType, list] = {}
        self._modules: dict[CodeType, str | None] = {}
        self._stacks: dict[int, list] = {}
        self._result: dict[str, tuple[int, float]] | None = None
        self._result_at: float | None = None  # monotonic end of the last completed window
        self._result_wall: float | None = None

    @property
    def running(self) -> bool:
        return self._deadline is not None

    def _hook(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            stack = self._stacks.get(threading.get_ident())
            if stack is None:
                stack = self._stacks[threading.get_ident()] = []
            stack.append((frame, self._timer()))
        elif event == "return":
            stack = self._stacks.get(threading.get_ident())
            if not stack or stack[-1][0] is not frame:
                return  # a call that began before the window
            _, started = stack.pop()
            code = frame.f_code
            entry = self._counts.get(code)
            if entry is None:
                entry = self._counts[code] = [0, 0.0]
                self._modules[code] = frame.f_globals.get("__name__")
            entry[0] += 1
            entry[1] += self._timer() - started

    def start(self) -> bool:
        """Start a window now unless one runs or Python cannot hook every thread."""
        with self._lock:
            if self.installer is None or self._deadline is not None:
                return False
            self._counts, self._modules, self._stacks = {}, {}, {}
            self._deadline = self._clock() + self.window_secs
            self.installer[0](self._hook)
            return True

    def poll(self) -> None:
        """End the running window once its time is up (the sampler calls this every tick)."""
        if self._deadline is not None and self._clock() >= self._deadline:
            self.finish()

    def finish(self) -> None:
        with self._lock:
            if self._deadline is None or self.installer is None:
                return
            self.installer[1]()
            self._deadline = None
            # A hook still finishing on another thread may add to these: copy, then drop.
            counts, modules = dict(self._counts), dict(self._modules)
            self._counts, self._modules, self._stacks = {}, {}, {}
        result: dict[str, tuple[int, float]] = {}
        for code, (count, total) in counts.items():
            name = self.labeler.label(self.labeler.label_id(code, modules.get(code))).function_name
            previous = result.get(name, (0, 0.0))
            result[name] = (previous[0] + count, previous[1] + total)
        self._result, self._result_at, self._result_wall = result, self._clock(), self._wall_clock()

    def stop(self) -> None:
        self.finish()

    def results(self) -> tuple[dict[str, tuple[int, float]] | None, str]:
        """The latest completed window's counts (or None) and a note; starts a window when stale."""
        if self.installer is None:
            return None, (
                "PROFILING_FULL is on, but exact call counts need Python 3.12+ "
                "(threading.setprofile_all_threads reaches running threads); call_count is the "
                "number of distinct calls the sampler observed, a lower bound."
            )
        stale = self._result_at is None or self._clock() - self._result_at > self.max_age_secs
        if stale:
            self.start()
        if self._result is None:
            return None, (
                f"An exact-count window of {self.window_secs:g} s is running; until it completes, "
                "call_count is the number of distinct calls the sampler observed (a lower bound)."
            )
        assert self._result_wall is not None
        return self._result, (
            f"call_count and average_duration_us are exact over a {self.window_secs:g} s "
            f"deterministic window that ended at {iso_utc(self._result_wall)}; "
            "functions not called then fall back to the sampler's lower bound."
        )
