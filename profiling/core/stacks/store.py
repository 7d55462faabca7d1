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
class SpanBucket(Bucket):
    """A bucket of figures added whole (see `StackStore.add_at`), with the time they cover.

    [first, last) is from the start of the earliest to the end of the latest figures added,
    within the bucket's own bounds; `covered_secs` the sum of their own durations (less than
    last - first across a gap).
    """

    first: float = math.inf
    last: float = -math.inf
    covered_secs: float = 0.0


def _merge(into: Figures, figures: Figures) -> None:
    """Add `figures` to `into`, without any cap (a window's or a query's merge); neither's
    StackStats objects are changed in place."""
    stacks = into.stacks
    for stack, stats in figures.stacks.items():
        held = stacks.get(stack)
        # Always a new object: `held` may be shared with another window (see Totals).
        if held is None:
            stacks[stack] = StackStats(stats.samples, stats.cpu_secs, stats.wall_secs)
        else:
            stacks[stack] = StackStats(
                held.samples + stats.samples, held.cpu_secs + stats.cpu_secs, held.wall_secs + stats.wall_secs
            )
    for mine, theirs in ((into.app_calls, figures.app_calls), (into.leaf_calls, figures.leaf_calls)):
        for label, count in theirs.items():
            mine[label] = mine.get(label, 0) + count
    _add_sums(into, figures)


def _add_sums(into: Figures, figures: Figures) -> None:
    """Add the sample counts and seconds of `figures` to `into`."""
    into.busy_samples += figures.busy_samples
    into.idle_samples += figures.idle_samples
    into.unmeasured_samples += figures.unmeasured_samples
    into.discarded_samples += figures.discarded_samples
    into.cpu_secs += figures.cpu_secs
    into.wall_secs += figures.wall_secs
    into.gc_secs += figures.gc_secs
    into.ticks += figures.ticks


@dataclass
class Totals(Figures):
    """A window's buckets merged.

    A window's `StackStats` may be shared with the store's cache of its closed buckets:
    read them, never change them in place (merge into new ones, as `add` does).
    """

    span_secs: float = 0.0
    # For a window of the store: (the merge of its closed buckets, the newest bucket's
    # figures) it was built from; a report can keep its own sums of the closed part, which
    # does not change until a bucket closes (the same object until then).
    parts: tuple[Totals, Totals] | None = field(default=None, repr=False, compare=False)

    def add(self, bucket: Figures) -> None:
        """Add a bucket's (or other totals') figures to these (the figures themselves are not changed)."""
        _merge(self, bucket)


def _shared_copy(totals: Totals) -> Totals:
    """New totals holding the same StackStats objects (never changed in place) in new dicts."""
    return Totals(
        stacks=dict(totals.stacks),
        app_calls=dict(totals.app_calls),
        leaf_calls=dict(totals.leaf_calls),
        busy_samples=totals.busy_samples,
        idle_samples=totals.idle_samples,
        unmeasured_samples=totals.unmeasured_samples,
        discarded_samples=totals.discarded_samples,
        cpu_secs=totals.cpu_secs,
        wall_secs=totals.wall_secs,
        gc_secs=totals.gc_secs,
        ticks=totals.ticks,
        span_secs=totals.span_secs,
    )


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
        max_new_frames_per_bucket: int | None = None,
        max_calls_per_bucket: int | None = None,
        bucket_type: type[Bucket] = Bucket,
    ):
        if bucket_secs <= 0 or max_window_secs < bucket_secs:
            raise ValueError("bucket_secs must be positive and at most max_window_secs")
        self.bucket_secs = bucket_secs
        self.max_window_secs = max_window_secs
        self.max_stacks_per_bucket = max_stacks_per_bucket
        self.max_held_entries = max_held_entries
        self.max_held_frames = max_held_frames
        self.other_stack = other_stack
        # Optional, for stores fed whole figures (`add_at`): label ids of stacks a bucket may
        # bring in that no other bucket holds yet, and labels per kind of calls per bucket.
        self.max_new_frames_per_bucket = max_new_frames_per_bucket
        self.max_calls_per_bucket = max_calls_per_bucket
        self.bucket_type = bucket_type
        self.dropped_calls = 0
        self._new_frames: dict[int, int] = {}  # bucket index -> frames its new stacks brought
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
        bucket = self.bucket_type(index=index)
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
        if self._new_frames:
            self._new_frames.pop(bucket.index, None)

    def _hold(self, bucket: Bucket, stack: Stack) -> StackStats:
        """A new entry of `stack` in `bucket`, within the window's limits (call with the lock held)."""
        entry = self._held.get(stack)
        per_bucket = self.max_new_frames_per_bucket
        if stack != self.other_stack and (
            self.held_entries >= self.max_held_entries
            or entry is None
            and (
                self.held_frames + len(stack) > self.max_held_frames
                or per_bucket is not None
                and self._new_frames.get(bucket.index, 0) + len(stack) > per_bucket
            )
        ):
            stack = self.other_stack
            stats = bucket.stacks.get(stack)
            if stats is not None:
                return stats
            entry = self._held.get(stack)
        if entry is None:
            entry = self._held[stack] = [stack, 0]
            self.held_frames += len(stack)
            if per_bucket is not None and stack != self.other_stack:
                self._new_frames[bucket.index] = self._new_frames.get(bucket.index, 0) + len(stack)
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
        result = _shared_copy(base)
        result.add(newest)
        span = max(0.0, now - buckets[0].index * self.bucket_secs) if buckets else 0.0
        result.span_secs = min(span, window_secs)
        result.parts = (base, newest)
        return result

    # -- figures added whole, at a time (a history keyed by wall-clock time) --------------

    def newest(self) -> Bucket | None:
        """The bucket being written, if any (call with the lock held)."""
        return self._buckets[-1] if self._buckets else None

    def add_figures(self, bucket: Bucket, figures: Figures) -> None:
        """Add whole figures (another bucket's) into `bucket`, within the caps (call with the lock held).

        Stacks new to the bucket are taken largest first (by samples, then wall time), so
        the smallest are the ones that share the "[other stacks]" entry once a cap is
        reached. Calls likewise: past `max_calls_per_bucket` labels of a kind, the calls of
        the smallest new labels are dropped (counted in `dropped_calls`). The figures' sums
        are all added.
        """
        stacks = bucket.stacks
        fresh = []
        for stack, stats in figures.stacks.items():
            mine = stacks.get(stack)
            if mine is None:
                fresh.append((stack, stats))
            else:
                mine.add(stats)
        if fresh:
            fresh.sort(key=lambda item: (item[1].samples, item[1].wall_secs), reverse=True)
            for stack, stats in fresh:
                mine = None
                if len(stacks) >= self.max_stacks_per_bucket:
                    stack = self.other_stack
                    mine = stacks.get(stack)
                if mine is None:
                    mine = self._hold(bucket, stack)
                mine.add(stats)
        limit = self.max_calls_per_bucket
        for mine_calls, theirs in (
            (bucket.app_calls, figures.app_calls),
            (bucket.leaf_calls, figures.leaf_calls),
        ):
            if limit is None or len(mine_calls) + len(theirs) <= limit:
                for label, count in theirs.items():
                    mine_calls[label] = mine_calls.get(label, 0) + count
                continue
            new_calls = []
            for label, count in theirs.items():
                if label in mine_calls:
                    mine_calls[label] += count
                else:
                    new_calls.append((count, label))
            room = max(0, limit - len(mine_calls))
            if len(new_calls) > room:
                new_calls.sort(reverse=True)
                self.dropped_calls += sum(count for count, _ in new_calls[room:])
                del new_calls[room:]
            for count, label in new_calls:
                mine_calls[label] = count
        _add_sums(bucket, figures)

    def add_at(
        self,
        at: float,
        figures: Figures,
        *,
        first: float | None = None,
        last: float | None = None,
        covered_secs: float = 0.0,
    ) -> Bucket:
        """Add whole figures to the bucket holding time `at` (call with the lock held).

        A `SpanBucket` also records the time they cover: from `first` to `last` (both `at`
        by default) within the bucket's own bounds, so the spans of a store's buckets never
        overlap; and `covered_secs` of it. Returns the bucket. A time before the newest
        bucket's goes to the newest, as with `bucket_at`.
        """
        bucket = self.bucket_at(at)
        self.add_figures(bucket, figures)
        if isinstance(bucket, SpanBucket):
            low = bucket.index * self.bucket_secs
            high = low + self.bucket_secs
            first = min(max(at if first is None else first, low), high)
            last = max(min(at if last is None else last, high), low)
            bucket.first = min(bucket.first, first)
            bucket.last = max(bucket.last, last)
            bucket.covered_secs += covered_secs
        return bucket

    def take_ending_by(self, time: float) -> list[Bucket]:
        """Remove and return, oldest first, the buckets that end at or before `time` (call with the lock held).

        What they held is released: they no longer count against the caps.
        """
        buckets = self._buckets
        taken = []
        while buckets and (buckets[0].index + 1) * self.bucket_secs <= time:
            bucket = buckets.popleft()
            self._release(bucket)
            taken.append(bucket)
        if taken:
            self._closed_cache = None
        return taken

    def span_of(self, bucket: Bucket) -> tuple[float, float, float]:
        """(first, last, covered seconds) of a bucket: a `SpanBucket`'s own, else its whole width."""
        if isinstance(bucket, SpanBucket):
            return bucket.first, bucket.last, bucket.covered_secs
        start = bucket.index * self.bucket_secs
        return start, start + self.bucket_secs, self.bucket_secs

    def overlapping(self, start: float, end: float) -> list[Bucket]:
        """The buckets whose span [first, last) overlaps [start, end), oldest first (call with the lock held).

        The newest may still change: it comes as a copy, so the list can be merged after
        the lock is released (older buckets never change).
        """
        found = []
        buckets = self._buckets
        for bucket in buckets:
            first, last, _ = self.span_of(bucket)
            if first < end and (last > start or start <= first == last):
                found.append(bucket)
        if found and found[-1] is buckets[-1]:
            newest = found[-1]
            first, last, covered = self.span_of(newest)
            copy = SpanBucket(index=newest.index, first=first, last=last, covered_secs=covered)
            _merge(copy, newest)
            found[-1] = copy
        return found

    def between(self, start: float, end: float) -> Totals:
        """Merge every bucket whose span overlaps [start, end); `span_secs` is the seconds they cover."""
        with self.lock:
            found = self.overlapping(start, end)
        totals = Totals()
        for bucket in found:
            totals.add(bucket)
            totals.span_secs += self.span_of(bucket)[2]
        return totals

    def coverage(self) -> tuple[float, float] | None:
        """(earliest first, latest last) of the buckets held, None when there are none."""
        with self.lock:
            if not self._buckets:
                return None
            spans = [self.span_of(bucket) for bucket in (self._buckets[0], self._buckets[-1])]
        return min(span[0] for span in spans), max(span[1] for span in spans)
