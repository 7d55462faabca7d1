"""What a worker of the runtime provides, and how the runtime builds one.

The runtime knows workers only by this protocol; which workers a runtime runs is decided
where it is built (profiling/core/assembly.py for the defaults, the app's conf.py for the
cross-instance link), so the runtime imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Worker(Protocol):
    """A background worker with its own thread: started and stopped by the runtime."""

    error_count: int

    @property
    def running(self) -> bool:
        """Whether its thread is alive."""

    @property
    def cpu_seconds(self) -> float:
        """CPU its thread has used (its per-thread CPU clock)."""

    def start(self) -> None:
        """Start its thread (idempotent)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop its thread and wait for it."""

    def forget_thread(self) -> None:
        """In a forked child: drop the parent's thread, which did not survive the fork."""


# A factory gets the runtime that is building it (profiling.core.runtime.ProfilingRuntime).
WorkerFactory = Callable[[Any], Worker]
