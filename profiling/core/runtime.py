"""The per-process profiler: its workers, started once per process, fork-aware, stoppable."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from profiling.core.config import MIB, ProfilingConfig
from profiling.core.endpoints.tracker import EndpointTracker
from profiling.core.errors import ProfilingDisabledError, ProfilingNotRunningError
from profiling.core.readers import PsutilReader, SystemReader
from profiling.core.reports import cpu_report, memory_report, threshold_status
from profiling.core.sampler import SystemSampler
from profiling.core.samples import Sample
from profiling.core.timefmt import iso_utc
from profiling.core.workers import Worker, WorkerFactory

logger = logging.getLogger(__name__)

SampleListener = Callable[[Sample], None]
EventListener = Callable[[dict], None]
T = TypeVar("T")


class ProfilingRuntime:
    """Everything the profiler runs in one process.

    `ensure_running()` is cheap and idempotent: a lock, a double check and a pid
    check, so a forked child that calls it starts its own workers with an empty
    history instead of trusting threads that did not survive the fork.
    """

    def __init__(
        self,
        config: ProfilingConfig,
        *,
        reader_factory: Callable[[], SystemReader] = PsutilReader,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        workers: Mapping[str, WorkerFactory] | None = None,
    ):
        self.config = config
        self._reader_factory = reader_factory
        self._clock = clock
        self._wall_clock = wall_clock
        # The workers besides the memory/CPU sampler, built and started in every process
        # that starts the profiler (the defaults: profiling.core.assembly.default_workers).
        self._worker_factories = dict(workers or {})
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._listeners: list[SampleListener] = []
        self._event_listeners: list[EventListener] = []
        self._last_status: str | None = None
        self.system_sampler: SystemSampler | None = None
        self.reader: SystemReader | None = None
        self.workers: dict[str, Worker] = {}
        # Per-process parts built on first use (the memory analysis), by their class.
        self._components: dict[type, object] = {}
        self._components_lock = threading.Lock()
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at: float | None = None
        self.counters: dict[str, int] = {}
        # CPU seconds of the profiler's work outside its own threads' lifetimes: what the
        # API asks on request threads (a census, a snapshot, a report merge), answers for
        # other instances, and threads that have ended (allocation windows).
        self._charged_cpu = 0.0
        self._charged_lock = threading.Lock()
        self._last_message: tuple[Sample, str, dict] | None = None
        # Which request each stack sample serves, and the requests per route (profiling/core/endpoints).
        self.endpoints = EndpointTracker(clock=clock)

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock the workers are timed by."""
        return self._clock

    @property
    def wall_clock(self) -> Callable[[], float]:
        """The clock sample and check timestamps come from (unix seconds)."""
        return self._wall_clock

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and self.system_sampler is not None and self.system_sampler.running

    def ensure_running(self) -> None:
        """Start the workers in this process unless they already run here."""
        if not self.config.enabled or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._start_locked()

    def _start_locked(self) -> None:
        pid = os.getpid()
        self.create_workers()
        self._pid = pid
        for worker in self.workers.values():
            worker.start()
        logger.info("profiler started in process %s (%d workers)", pid, len(self.workers))

    def create_workers(self) -> dict[str, Worker]:
        """Build this process's workers without starting their threads.

        `ensure_running()` builds and starts them; a benchmark that simulates hours of
        uptime builds them here and drives their ticks with its own clock.
        """
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.reader = self._reader_factory()
        self.system_sampler = SystemSampler(
            self.reader,
            self.config.memory_interval_secs,
            self.config.history_max_samples,
            clock=self._clock,
            wall_clock=self._wall_clock,
        )
        self.system_sampler.add_listener(self._dispatch)
        self.workers = {"system": self.system_sampler}
        self._last_status = None
        for name, factory in self._worker_factories.items():
            self.workers[name] = factory(self)
        self.started_at = self._wall_clock()
        return self.workers

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every worker and wait for their threads to end."""
        with self._lock:
            workers = list(self.workers.values())
            self._pid = None
        for worker in workers:
            worker.stop(timeout)

    def after_fork_in_child(self) -> None:
        """Forget the parent's threads; the next ensure_running() starts fresh ones."""
        for worker in self.workers.values():
            worker.forget_thread()
        self._lock = threading.Lock()
        self._charged_lock = threading.Lock()
        self._charged_cpu = 0.0
        self._components = {}
        self._components_lock = threading.Lock()
        self._pid = None
        self.endpoints.after_fork()

    def component(self, cls: Callable[[ProfilingRuntime], T]) -> T:
        """This process's `cls(self)`, built on first use (a forked child builds its own)."""
        found = self._components.get(cls)  # type: ignore[call-overload]
        if found is None:
            with self._components_lock:
                found = self._components.get(cls)  # type: ignore[call-overload]
                if found is None:
                    found = self._components[cls] = cls(self)  # type: ignore[index]
        return found  # type: ignore[return-value]

    def worker(self, cls: type[T]) -> T | None:
        """This process's worker of that class, if the runtime runs one."""
        for worker in self.workers.values():
            if isinstance(worker, cls):
                return worker
        return None

    # -- samples and listeners ----------------------------------------------------------

    def add_sample_listener(self, listener: SampleListener) -> None:
        self._listeners.append(listener)

    def remove_sample_listener(self, listener: SampleListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_event_listener(self, listener: EventListener) -> None:
        """Call `listener(message)` for each event (alert, leak_report, snapshot, ...)."""
        self._event_listeners.append(listener)

    def remove_event_listener(self, listener: EventListener) -> None:
        if listener in self._event_listeners:
            self._event_listeners.remove(listener)

    def publish_event(self, message: dict) -> None:
        """Hand an event to every listener; listeners must not block."""
        for listener in list(self._event_listeners):
            try:
                listener(message)
            except Exception:
                logger.warning("an event listener failed", exc_info=True)

    def _dispatch(self, sample: Sample) -> None:
        for listener in list(self._listeners):
            try:
                listener(sample)
            except Exception:
                logger.warning("a sample listener failed", exc_info=True)
        self._check_threshold(sample)

    def _check_threshold(self, sample: Sample) -> None:
        status = threshold_status(sample.memory.rss / MIB, self.config)
        previous, self._last_status = self._last_status, status
        if previous is None and status == "normal" or previous == status:
            return
        self.publish_event(
            {
                "type": "alert",
                "instance": self.instance,
                "timestamp": iso_utc(sample.timestamp),
                "previous_status": previous,
                "threshold_status": status,
                "rss_mb": round(sample.memory.rss / MIB, 3),
                "thresholds": self.thresholds(),
            }
        )

    def thresholds(self) -> dict:
        return {"warning_mb": self.config.memory_warning_mb, "alert_mb": self.config.memory_alert_mb}

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    # -- what the API asks ---------------------------------------------------------------

    def require_running(self) -> SystemSampler:
        if not self.config.enabled:
            raise ProfilingDisabledError()
        sampler = self.system_sampler
        if not self.running or sampler is None:
            raise ProfilingNotRunningError()
        return sampler

    def memory_report(self) -> dict:
        """Measure memory now; fit the growth rate over the recent samples."""
        sampler = self.require_running()
        assert self.reader is not None
        reading = self.reader.memory()
        now = self._clock()
        history = sampler.history(since_monotonic=now - self.config.growth_window_secs)
        return memory_report(reading, self._wall_clock(), now, history, self.config)

    def cpu_report(self) -> dict:
        """CPU over the last sampling interval (measured now if no interval has ended yet)."""
        return cpu_report(self.require_running().current(), self.config)

    def sample_message(self, sample: Sample) -> dict:
        """The live feed's message for one stored sample (callers must not change it).

        The latest one is kept: the feed, the cross-instance link and /metrics all ask
        for the newest sample's message, so it is built once per sample.
        """
        cached = self._last_message
        if cached is not None and cached[0] is sample and cached[1] == self.instance:
            return cached[2]
        message = self._build_sample_message(sample)
        self._last_message = (sample, self.instance, message)
        return message

    def _build_sample_message(self, sample: Sample) -> dict:
        sampler = self.require_running()
        history = sampler.history(since_monotonic=sample.monotonic - self.config.growth_window_secs)
        history = [s for s in history if s.monotonic <= sample.monotonic]
        return {
            "type": "sample",
            "instance": self.instance,
            "timestamp": iso_utc(sample.timestamp),
            "memory": memory_report(sample.memory, sample.timestamp, sample.monotonic, history, self.config),
            "cpu": cpu_report(sample, self.config),
        }

    def charge_cpu(self, seconds: float) -> None:
        """Count `seconds` of CPU that profiler work used on some other thread."""
        if seconds > 0:
            with self._charged_lock:
                self._charged_cpu += seconds

    @property
    def charged_cpu_seconds(self) -> float:
        return self._charged_cpu

    def profiler_cpu_seconds(self) -> float:
        """All the CPU the profiler used in this process: its threads' and the work charged to it."""
        return sum(worker.cpu_seconds for worker in self.workers.values()) + self._charged_cpu

    def overhead_ratio(self, profiler_seconds: float | None = None) -> float | None:
        """The profiler threads' CPU time over the whole process's CPU time.

        `profiler_seconds`: the profiler's CPU seconds read already (a scrape gives the same
        figure as its counter and in the ratio: a tick ending between two reads would set
        them apart), else read now.
        """
        if self.reader is None:
            return None
        if profiler_seconds is None:
            profiler_seconds = self.profiler_cpu_seconds()
        times = self.reader.process_cpu()
        total = times.user + times.system
        return profiler_seconds / total if total > 0 else None


_runtime: ProfilingRuntime | None = None
_runtime_lock = threading.Lock()


def install(runtime: ProfilingRuntime | None) -> ProfilingRuntime | None:
    """Make `runtime` the process's runtime; return the one it replaces."""
    global _runtime
    with _runtime_lock:
        previous, _runtime = _runtime, runtime
    return previous


def get_runtime(factory: Callable[[], ProfilingRuntime] | None = None) -> ProfilingRuntime:
    """Return the process's runtime, creating it with `factory` (not starting it) on first use."""
    global _runtime
    runtime = _runtime
    if runtime is not None:
        return runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = factory() if factory else ProfilingRuntime(ProfilingConfig())
        return _runtime


def _after_fork_in_child() -> None:
    if _runtime is not None:
        _runtime.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
