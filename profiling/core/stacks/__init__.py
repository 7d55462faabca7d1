"""The sampling stack profiler: which code the process's threads spend their time in."""

from profiling.core.stacks.sampler import StackSampler
from profiling.core.stacks.service import bottlenecks, endpoints, flamegraph, stack_sampler

__all__ = ["StackSampler", "bottlenecks", "endpoints", "flamegraph", "stack_sampler"]
