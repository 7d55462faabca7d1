"""A named daemon thread that runs a task at a fixed rate, survives its errors and counts its CPU."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_MAX_DISTINCT_ERRORS_LOGGED = 50
_OVERFLOW_LOG_INTERVAL_SECS = 60.0


class PeriodicWorker:
    """Run `tick()` every `interval` seconds on its own daemon thread.

    Ticks are drift-corrected: they are due at start + k * interval, and ticks missed
    while the process was busy are skipped, not bunched. An exception inside a tick is
    logged once (with its traceback) per distinct error and the worker keeps going;
    past _MAX_DISTINCT_ERRORS_LOGGED distinct errors, further new ones are counted and
    summed up in one warning a minute at most.
    The thread's own CPU time (its per-thread CPU clock) is kept for the overhead figure.
    """

    thread_name = "riptide-worker"

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic):
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._clock = clock
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._logged_errors: set[str] = set()
        self._unlogged_since_summary = 0
        self._summary_logged_at: float | None = None
        self.error_count = 0
        self.unlogged_error_count = 0
        self.tick_count = 0
        self.last_error: str | None = None
        self._cpu_seconds = 0.0

    # -- to override ---------------------------------------------------------------

    def on_start(self) -> None:
        """Run once on the worker thread before the first tick (e.g. take a baseline)."""

    def tick(self) -> None:
        """Do one unit of periodic work."""
        raise NotImplementedError

    def pause(self, secs: float) -> bool:
        """Wait until the next tick is due; whether the worker is stopping (wakes at once on stop)."""
        return self._stop_event.wait(secs)

    def slots_to_next_tick(self) -> int:
        """After a tick, how many intervals until the next one (more than one: skip ticks)."""
        return 1

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds this worker's thread has used so far."""
        return self._cpu_seconds

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stop_event = threading.Event()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread = self._thread
            self._stop_event.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def forget_thread(self) -> None:
        """Drop the handle of a thread that no longer exists (in a forked child)."""
        self._thread = None
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    # -- the loop --------------------------------------------------------------------

    def run_tick(self) -> None:
        """Run one tick now, logging instead of raising; tests and callers use it too."""
        try:
            self.tick()
            self.tick_count += 1
        except Exception as exc:  # a sampler never takes the server down
            self.error_count += 1
            signature = f"{type(exc).__name__}: {exc}"
            self.last_error = signature
            if signature in self._logged_errors:
                return
            if len(self._logged_errors) < _MAX_DISTINCT_ERRORS_LOGGED:
                self._logged_errors.add(signature)
                logger.warning(
                    "%s tick failed (further identical errors are counted, not logged)",
                    self.thread_name,
                    exc_info=True,
                )
                return
            self._count_unlogged(signature)

    def _count_unlogged(self, signature: str) -> None:
        """Past the distinct errors logged one by one: count, and sum up once a minute at most."""
        self.unlogged_error_count += 1
        self._unlogged_since_summary += 1
        now = self._clock()
        if (
            self._summary_logged_at is not None
            and now - self._summary_logged_at < _OVERFLOW_LOG_INTERVAL_SECS
        ):
            return
        logger.warning(
            "%s: %d more tick errors with messages other than the %d already logged "
            "(%d in all so far; summed up once a minute at most); the latest: %s",
            self.thread_name,
            self._unlogged_since_summary,
            len(self._logged_errors),
            self.error_count,
            signature,
        )
        self._summary_logged_at = now
        self._unlogged_since_summary = 0

    def _run(self) -> None:
        stop = self._stop_event
        try:
            self.on_start()
        except Exception:
            logger.warning(
                "%s failed to start; it keeps trying on each tick", self.thread_name, exc_info=True
            )
        next_due = self._clock() + self.interval
        while True:
            delay = next_due - self._clock()
            if delay > 0 and self.pause(delay):
                break
            if stop.is_set():
                break
            self.run_tick()
            self._cpu_seconds = time.thread_time()
            now = self._clock()
            next_due += self.interval * self.slots_to_next_tick()
            if next_due <= now:  # fell behind: skip the missed ticks
                next_due += math.ceil((now - next_due) / self.interval + 1e-9) * self.interval
