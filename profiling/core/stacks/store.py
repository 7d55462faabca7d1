"""A bounded ring of per-second buckets of aggregated stack samples."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

Stack = tuple[int, ...]  # label ids, outermost frame first

MAX_STACKS_PER_BUCKET = 256
# What the whole window may hold, whatever the threads and the depth of their stacks:
# (bucket, stack) entries (~160 bytes each with their figures) and label ids in the
# distinct stacks they hold (8 bytes each). Past either, new stacks share the
# "[other stacks]" entry of their bucket. About 16 + 8 MB at most; a busy server with
# a few hundred hot stacks stays far below.
MAX_HELD_ENTRIES = 100_000
MAX_HELD_FRAMES = 1_000_000


@dataclass(slots=True)
class StackStats:
    """Busy samples of one stack: how many, and the thread-seconds they stand for."""

    samples: int = 0
    cpu_secs: float = 0.0
    wall_secs: float = 0.0

    def add(self, other: StackStats) -> None:
        self.samples += other.samples
        self.cpu_secs += other.cpu_secs
        self.wall_secs += other.wall_secs


@dataclass
class Figures:
    """Aggregated samples: per stack, calls first seen per label, and the sums."""

    stacks: dict[Stack, StackStats] = field(default_factory=dict)
    # Calls first observed, per attributed label (app scope / leaf).
    app_calls: dict[int, int] = field(default_factory=dict)
    leaf_calls: dict[int, int] = field(default_factory=dict)
    busy_samples: int = 0
    idle_samples: int = 0
    unmeasured_samples: int = 0
    discarded_samples: int = 0
    cpu_secs: float = 0.0
    wall_secs: float = 0.0
    gc_secs: float = 0.0
    ticks: int = 0


@dataclass
class Bucket(Figures):
    """Everything sampled during one bucket of time (index = floor(monotonic / width))."""

    index: int = 0


@dataclass
class Totals(Figures):
    """A window's buckets merged."""

    span_secs: float = 0.0

    def add(self, bucket: Figures) -> None:
        """Add a bucket's (or other totals') figures to these."""
        stacks = self.stacks
        for stack, stats in bucket.stacks.items():
            merged = stacks.get(stack)
            if merged is None:
                merged = stacks[stack] = StackStats()
            merged.add(stats)
        for mine, theirs in ((self.app_calls, bucket.app_calls), (self.leaf_calls, bucket.leaf_calls)):
            for label, count in theirs.items():
                mine[label] = mine.get(label, 0) + count
        self.busy_samples += bucket.busy_samples
        self.idle_samples += bucket.idle_samples
        self.unmeasured_samples += bucket.unmeasured_samples
        self.discarded_samples += bucket.discarded_samples
        self.cpu_secs += bucket.cpu_secs
        self.wall_secs += bucket.wall_secs
        self.gc_secs += bucket.gc_secs
        self.ticks += bucket.ticks


class StackStore:
    """Buckets of `bucket_secs` covering at most `max_window_secs`, oldest dropped.

    The sampler adds under the lock; a window's totals are merged under it too, so
    a request costs (buckets in the window x distinct stacks per bucket) whatever
    the uptime. Distinct stacks per bucket are capped, and so are the entries and
    the frames of distinct stacks held over the whole window: the rest share one
    entry. Each distinct stack is held once (a count of the buckets holding it), and
    released when the last of them leaves the window.
    """

    def __init__(
        self,
        *,
        bucket_secs: float = 1.0,
        max_window_secs: float = 600.0,
        max_stacks_per_bucket: int = MAX_STACKS_PER_BUCKET,
        max_held_entries: int = MAX_HELD_ENTRIES,
        max_held_frames: int = MAX_HELD_FRAMES,
        other_stack: Stack = (),
    ):
        if bucket_secs <= 0 or max_window_secs < bucket_secs:
            raise ValueError("bucket_secs must be positive and at most max_window_secs")
        self.bucket_secs = bucket_secs
        self.max_window_secs = max_window_secs
        self.max_stacks_per_bucket = max_stacks_per_bucket
        self.max_held_entries = max_held_entries
        self.max_held_frames = max_held_frames
        self.other_stack = other_stack
        self.lock = threading.Lock()
        self._buckets: deque[Bucket] = deque(maxlen=math.ceil(max_window_secs / bucket_secs) + 1)
        # Each distinct stack held by a bucket -> [the one tuple all buckets share, buckets holding it].
        self._held: dict[Stack, list] = {}
        self.held_entries = 0
        self.held_frames = 0
        self._closed_cache: tuple[tuple, Totals] | None = None

    def intern(self, stack: Stack) -> Stack:
        """The tuple the buckets already hold for this stack, so they do not each hold a copy."""
        held = self._held.get(stack)
        return held[0] if held is not None else stack

    def bucket_at(self, monotonic: float) -> Bucket:
        """The bucket for this time, created if needed (call with the lock held)."""
        index = math.floor(monotonic / self.bucket_secs)
        buckets = self._buckets
        if buckets and buckets[-1].index == index:
            return buckets[-1]
        if buckets and buckets[-1].index > index:  # a clock that went back: keep the newest
            return buckets[-1]
        bucket = Bucket(index=index)
        if len(buckets) == buckets.maxlen:
            self._release(buckets[0])
        buckets.append(bucket)
        return bucket

    def _release(self, bucket: Bucket) -> None:
        """Forget what a bucket leaving the window held."""
        held = self._held
        for stack in bucket.stacks:
            entry = held.get(stack)
            if entry is None:
                continue
            entry[1] -= 1
            if entry[1] <= 0:
                del held[stack]
                self.held_frames -= len(stack)
        self.held_entries -= len(bucket.stacks)

    def _hold(self, bucket: Bucket, stack: Stack) -> StackStats:
        """A new entry of `stack` in `bucket`, within the window's limits (call with the lock held)."""
        entry = self._held.get(stack)
        if stack != self.other_stack and (
            self.held_entries >= self.max_held_entries
            or entry is None
            and self.held_frames + len(stack) > self.max_held_frames
        ):
            stack = self.other_stack
            stats = bucket.stacks.get(stack)
            if stats is not None:
                return stats
            entry = self._held.get(stack)
        if entry is None:
            entry = self._held[stack] = [stack, 0]
            self.held_frames += len(stack)
        entry[1] += 1
        self.held_entries += 1
        stats = bucket.stacks[entry[0]] = StackStats()
        return stats

    def add_busy(self, bucket: Bucket, stack: Stack, cpu_secs: float, wall_secs: float) -> None:
        """Count one busy sample (call with the lock held)."""
        stats = bucket.stacks.get(stack)
        if stats is None:
            if len(bucket.stacks) >= self.max_stacks_per_bucket:
                stack = self.other_stack
                stats = bucket.stacks.get(stack)
            if stats is None:
                stats = self._hold(bucket, stack)
        stats.samples += 1
        stats.cpu_secs += cpu_secs
        stats.wall_secs += wall_secs
        bucket.busy_samples += 1
        bucket.cpu_secs += cpu_secs
        bucket.wall_secs += wall_secs

    def window(self, now: float, window_secs: float) -> Totals:
        """Merge the buckets that started within the last `window_secs` seconds before `now`.

        Only the newest bucket is still being written; the older ones never change, so
        their merge is cached and reused until a bucket closes or the window moves.
        """
        first = math.ceil((now - window_secs) / self.bucket_secs)
        with self.lock:
            buckets = [b for b in self._buckets if b.index >= first]
            newest = Totals()
            if buckets:
                newest.add(buckets[-1])
        closed = buckets[:-1]
        key = (first, closed[-1].index if closed else None, len(closed))
        cached = self._closed_cache
        if cached is not None and cached[0] == key:
            base = cached[1]
        else:
            base = Totals()
            for bucket in closed:
                base.add(bucket)
            self._closed_cache = (key, base)
        result = Totals()
        result.add(base)
        result.add(newest)
        span = max(0.0, now - buckets[0].index * self.bucket_secs) if buckets else 0.0
        result.span_secs = min(span, window_secs)
        return result
