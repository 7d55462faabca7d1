"""The workers every runtime runs besides the memory/CPU sampler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from profiling.core.periodic import PeriodicWorker

if TYPE_CHECKING:
    from profiling.core.runtime import ProfilingRuntime

WorkerFactory = Callable[["ProfilingRuntime"], PeriodicWorker]


def default_worker_factories() -> dict[str, WorkerFactory]:
    """Name -> factory of each extra worker; the runtime builds them when it starts."""
    from profiling.core.memory.service import leak_check_worker

    factories: dict[str, WorkerFactory] = {"leak_checks": leak_check_worker, "stacks": _stack_sampler}
    return factories


def _stack_sampler(runtime: ProfilingRuntime) -> PeriodicWorker:
    from profiling.core.stacks.sampler import StackSampler

    return StackSampler(runtime.config.sample_hz, full=runtime.config.full)
