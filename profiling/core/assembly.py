"""The default set of workers a runtime runs besides its memory/CPU sampler."""

from __future__ import annotations

from profiling.core.memory.service import leak_check_worker
from profiling.core.runtime import ProfilingRuntime
from profiling.core.stacks.sampler import StackSampler
from profiling.core.workers import WorkerFactory

LEAK_CHECKS = "leak_checks"
STACKS = "stacks"


def stack_sampler_worker(runtime: ProfilingRuntime) -> StackSampler:
    return StackSampler(
        runtime.config.sample_hz,
        full=runtime.config.full,
        endpoints=runtime.endpoints,
        wall_clock=runtime.wall_clock,
        max_cpu_share=runtime.config.sampler_max_cpu_percent / 100.0,
    )


def default_workers() -> dict[str, WorkerFactory]:
    """Name -> factory of the default workers: background leak checks and the stack sampler."""
    return {LEAK_CHECKS: leak_check_worker, STACKS: stack_sampler_worker}
