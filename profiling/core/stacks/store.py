"""A bounded ring of per-second buckets of aggregated stack samples."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

Stack = tuple[int, ...]  # label ids, outermost frame first

MAX_STACKS_PER_BUCKET = 256
MAX_INTERNED_STACKS = 20_000


@dataclass
class StackStats:
    """Busy samples of one stack: how many, and the thread-seconds they stand for."""

    samples: int = 0
    cpu_secs: float = 0.0
    wall_secs: float = 0.0


@dataclass
class Bucket:
    """Everything sampled during one bucket of time (index = floor(monotonic / width))."""

    index: int
    stacks: dict[Stack, StackStats] = field(default_factory=dict)
    # Calls first observed in this bucket, per attributed label (app scope / leaf).
    app_calls: dict[int, int] = field(default_factory=dict)
    leaf_calls: dict[int, int] = field(default_factory=dict)
    busy_samples: int = 0
    idle_samples: int = 0
    unmeasured_samples: int = 0
    cpu_secs: float = 0.0
    wall_secs: float = 0.0
    gc_secs: float = 0.0
    ticks: int = 0


@dataclass
class Totals:
    """A window's buckets merged."""

    stacks: dict[Stack, StackStats]
    app_calls: dict[int, int]
    leaf_calls: dict[int, int]
    busy_samples: int
    idle_samples: int
    unmeasured_samples: int
    cpu_secs: float
    wall_secs: float
    gc_secs: float
    ticks: int
    span_secs: float


class StackStore:
    """Buckets of `bucket_secs` covering at most `max_window_secs`, oldest dropped.

    The sampler adds under the lock; a window's totals are merged under it too, so
    a request costs (buckets in the window x distinct stacks per bucket) whatever
    the uptime. Distinct stacks per bucket are capped: the rest share one entry.
    """

    def __init__(
        self,
        *,
        bucket_secs: float = 1.0,
        max_window_secs: float = 600.0,
        max_stacks_per_bucket: int = MAX_STACKS_PER_BUCKET,
        other_stack: Stack = (),
    ):
        if bucket_secs <= 0 or max_window_secs < bucket_secs:
            raise ValueError("bucket_secs must be positive and at most max_window_secs")
        self.bucket_secs = bucket_secs
        self.max_window_secs = max_window_secs
        self.max_stacks_per_bucket = max_stacks_per_bucket
        self.other_stack = other_stack
        self.lock = threading.Lock()
        self._buckets: deque[Bucket] = deque(maxlen=math.ceil(max_window_secs / bucket_secs) + 1)
        self._interned: dict[Stack, Stack] = {}

    def intern(self, stack: Stack) -> Stack:
        """The one shared tuple for this stack, so buckets do not each hold a copy."""
        found = self._interned.get(stack)
        if found is not None:
            return found
        if len(self._interned) >= MAX_INTERNED_STACKS:
            self._interned.clear()
        self._interned[stack] = stack
        return stack

    def bucket_at(self, monotonic: float) -> Bucket:
        """The bucket for this time, created if needed (call with the lock held)."""
        index = math.floor(monotonic / self.bucket_secs)
        buckets = self._buckets
        if buckets and buckets[-1].index == index:
            return buckets[-1]
        if buckets and buckets[-1].index > index:  # a clock that went back: keep the newest
            return buckets[-1]
        bucket = Bucket(index)
        buckets.append(bucket)
        return bucket

    def add_busy(self, bucket: Bucket, stack: Stack, cpu_secs: float, wall_secs: float) -> None:
        """Count one busy sample (call with the lock held)."""
        stats = bucket.stacks.get(stack)
        if stats is None:
            if len(bucket.stacks) >= self.max_stacks_per_bucket:
                stack = self.other_stack
                stats = bucket.stacks.get(stack)
            if stats is None:
                stats = bucket.stacks[stack] = StackStats()
        stats.samples += 1
        stats.cpu_secs += cpu_secs
        stats.wall_secs += wall_secs
        bucket.busy_samples += 1
        bucket.cpu_secs += cpu_secs
        bucket.wall_secs += wall_secs

    def window(self, now: float, window_secs: float) -> Totals:
        """Merge the buckets that overlap the last `window_secs` seconds before `now`."""
        first = math.floor((now - window_secs) / self.bucket_secs)
        if (now - window_secs) / self.bucket_secs > first:
            first += 1  # only buckets wholly inside the window, plus the current one
        stacks: dict[Stack, StackStats] = {}
        app_calls: dict[int, int] = {}
        leaf_calls: dict[int, int] = {}
        busy = idle = unmeasured = ticks = 0
        cpu = wall = gc_secs = 0.0
        oldest: int | None = None
        with self.lock:
            for bucket in reversed(self._buckets):
                if bucket.index < first:
                    break
                oldest = bucket.index
                for stack, stats in bucket.stacks.items():
                    merged = stacks.get(stack)
                    if merged is None:
                        merged = stacks[stack] = StackStats()
                    merged.samples += stats.samples
                    merged.cpu_secs += stats.cpu_secs
                    merged.wall_secs += stats.wall_secs
                for label, count in bucket.app_calls.items():
                    app_calls[label] = app_calls.get(label, 0) + count
                for label, count in bucket.leaf_calls.items():
                    leaf_calls[label] = leaf_calls.get(label, 0) + count
                busy += bucket.busy_samples
                idle += bucket.idle_samples
                unmeasured += bucket.unmeasured_samples
                cpu += bucket.cpu_secs
                wall += bucket.wall_secs
                gc_secs += bucket.gc_secs
                ticks += bucket.ticks
        span = 0.0 if oldest is None else max(0.0, now - oldest * self.bucket_secs)
        return Totals(
            stacks,
            app_calls,
            leaf_calls,
            busy,
            idle,
            unmeasured,
            cpu,
            wall,
            gc_secs,
            ticks,
            min(span, window_secs),
        )
