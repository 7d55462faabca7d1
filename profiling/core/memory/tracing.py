"""Allocation tracking in bounded windows: tracemalloc runs only while someone asks.

tracemalloc at 1 frame makes allocation-heavy Python code several times slower (the
benchmark's figure is in docs/BENCHMARKS.md), so it is never on by default. A request for allocations answers at once from the latest completed window;
when there is none, or it is older than `stale_after_secs`, a new window starts on a
background thread: tracing at 1 frame for `window_secs`, with `snapshots_per_window`
snapshots spread over it. Statistics are computed after tracing stopped.

What each figure is: a location's bytes and blocks are those of the one snapshot where
that location held the most (live blocks allocated during the window, still alive at that
snapshot); a function's bytes are the most its lines held together at any one snapshot;
the traced peak is tracemalloc's own peak over the window (get_traced_memory), the
memory of the window's own snapshots taken out. Steady churn shows even when a block is
freed between two snapshots. Blocks allocated by the profiler's own code (the `profiling`
package) are left out of every figure: they are not the service's. Defaults: a 2 s window, stale after 180 s: a dashboard that
asks all the time keeps tracing on at most 2 s in 182 s (1.1 % of the time).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from profiling.core.config import MIB
from profiling.core.memory.allocator import UNAVAILABLE_NOTE, AllocatorFigures, read_allocator
from profiling.core.memory.naming import CodeLocator
from profiling.core.timefmt import iso_utc

logger = logging.getLogger(__name__)

WINDOW_SECS = 2.0
STALE_AFTER_SECS = 180.0
SNAPSHOTS_PER_WINDOW = 4
TOP_ALLOCATORS = 10
LOCATIONS_NAMED = 200
KIB = 1024
BUCKETS = ("small_0_1kb", "medium_1_100kb", "large_100kb_1mb", "huge_1mb_plus")


def bucket_of(size: int) -> str:
    """The size_distribution bucket of a block: <1 KiB, 1-100 KiB, 100 KiB-1 MiB, >=1 MiB."""
    if size < KIB:
        return BUCKETS[0]
    if size < 100 * KIB:
        return BUCKETS[1]
    if size < MIB:
        return BUCKETS[2]
    return BUCKETS[3]


@dataclass(frozen=True)
class WindowResult:
    started_at: float  # unix seconds
    finished_monotonic: float
    duration_secs: float
    snapshots: int
    traced_peak_bytes: int | None  # tracemalloc's peak over the window; None when not our tracing
    top_allocators: list[tuple[str, int]]  # most bytes a function held at any one snapshot
    top_locations: list[dict]
    size_distribution: dict[str, int]
    huge_allocators: list[str]
    blocks: int


# The window's own bookkeeping (its snapshots, this module's lists) is not the service's,
# nor is anything the profiler's own code allocates (its samplers, stores and reports).
_OWN_FILES = frozenset({tracemalloc.__file__, __file__})
_OWN_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def _is_own(filename: str) -> bool:
    return filename in _OWN_FILES or filename.startswith(_OWN_PACKAGE_DIR)


@dataclass
class _SnapshotFigures:
    by_location: Counter  # bytes per (file, line)
    blocks: Counter  # blocks per (file, line)
    largest: dict  # largest single block per (file, line)
    buckets: Counter  # blocks per size bucket
    own_bytes: int  # bytes the window's own bookkeeping held (left out of every figure)


def _snapshot_figures(snapshot) -> _SnapshotFigures:
    """Per-location bytes, blocks and largest block, and bucket counts, of one snapshot.

    Zero-byte traces (e.g. `<frozen importlib._bootstrap>`) are counted as blocks of the
    smallest bucket and give their location 0 bytes.
    """
    figures = _SnapshotFigures(Counter(), Counter(), {}, Counter(), 0)
    by_location, blocks, largest, buckets = (
        figures.by_location,
        figures.blocks,
        figures.largest,
        figures.buckets,
    )
    for trace in snapshot.traces:
        size = trace.size
        frame = trace.traceback[0]
        if _is_own(frame.filename):
            figures.own_bytes += size
            continue
        key = (frame.filename, frame.lineno)
        by_location[key] += size
        blocks[key] += 1
        if size > largest.get(key, 0):
            largest[key] = size
        buckets[bucket_of(size)] += 1
    return figures


def summarise(
    snapshots: list,
    locator: CodeLocator,
    started_at: float,
    finished: float,
    duration: float,
    interval_peaks: list[int] | None = None,
) -> WindowResult:
    """Fold a window's snapshots into per-location and per-function live bytes and bucket counts.

    `interval_peaks[i]` is tracemalloc's peak of traced memory in the interval that ended
    with snapshot i (None when the tracing was someone else's: then no peak is reported).
    """
    peak_bytes: Counter = Counter()
    peak_blocks: Counter = Counter()
    largest: dict = {}
    buckets = dict.fromkeys(BUCKETS, 0)
    traced_peak = 0
    blocks_peak = 0
    per_snapshot = []
    for i, snapshot in enumerate(snapshots):
        figures = _snapshot_figures(snapshot)
        per_snapshot.append(figures.by_location)
        for key, size in figures.by_location.items():
            if size > peak_bytes[key] or key not in peak_blocks:
                peak_bytes[key] = size
                peak_blocks[key] = figures.blocks[key]
            largest[key] = max(largest.get(key, 0), figures.largest.get(key, 0))
        for name in BUCKETS:
            buckets[name] = max(buckets[name], figures.buckets[name])
        blocks_peak = max(blocks_peak, sum(figures.buckets.values()))
        if interval_peaks is not None:
            # what the service held at its highest, without the snapshots already taken
            traced_peak = max(
                traced_peak, interval_peaks[i] - figures.own_bytes, sum(figures.by_location.values())
            )
    # Name the lines that matter in any one snapshot, each once.
    named: dict = {}
    for by_location in per_snapshot:
        for key, _ in by_location.most_common(LOCATIONS_NAMED):
            if key not in named:
                named[key] = locator.name(*key)
    by_function: Counter = Counter()
    for by_location in per_snapshot:
        at_snapshot: Counter = Counter()
        for key, name in named.items():
            size = by_location.get(key)
            if size:
                at_snapshot[name] += size
        for name, size in at_snapshot.items():
            if size > by_function[name]:
                by_function[name] = size
    locations = []
    huge = []
    for key, size in peak_bytes.most_common(LOCATIONS_NAMED):
        name = named.get(key) or locator.name(*key)
        if len(locations) < TOP_ALLOCATORS:
            locations.append(
                {
                    "function_name": name,
                    "file": key[0],
                    "line_number": key[1],
                    "bytes": size,
                    "blocks": peak_blocks[key],
                }
            )
        if largest.get(key, 0) >= MIB and name not in huge:
            huge.append(name)
    return WindowResult(
        started_at=started_at,
        finished_monotonic=finished,
        duration_secs=round(duration, 3),
        snapshots=len(snapshots),
        traced_peak_bytes=None if interval_peaks is None else traced_peak,
        top_allocators=[(name, size) for name, size in by_function.most_common(TOP_ALLOCATORS) if size > 0],
        top_locations=locations,
        size_distribution=buckets,
        huge_allocators=huge,
        blocks=blocks_peak,
    )


class AllocationTracker:
    """Serve the latest allocation window and start a new one when it is missing or stale."""

    thread_name = "riptide-alloc-window"

    def __init__(
        self,
        *,
        window_secs: float = WINDOW_SECS,
        stale_after_secs: float = STALE_AFTER_SECS,
        snapshots_per_window: int = SNAPSHOTS_PER_WINDOW,
        locator: CodeLocator | None = None,
        allocator: Callable[[], AllocatorFigures | None] = read_allocator,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        on_cpu: Callable[[float], None] | None = None,
    ):
        self.window_secs = window_secs
        # Told the CPU seconds each window's thread used, when it ends (the overhead figure).
        self._on_cpu = on_cpu
        self.stale_after_secs = stale_after_secs
        self.snapshots_per_window = max(1, snapshots_per_window)
        self._locator = locator or CodeLocator()
        self._allocator = allocator
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._window_started: float | None = None
        self._window_started_mono: float | None = None
        self._latest: WindowResult | None = None

    @property
    def collecting(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def latest(self) -> WindowResult | None:
        return self._latest

    def _stale(self) -> bool:
        latest = self._latest
        return latest is None or self._clock() - latest.finished_monotonic > self.stale_after_secs

    def ensure_fresh(self) -> bool:
        """Start a window unless a fresh result exists or one is running; True if one started."""
        with self._lock:
            if self.collecting or not self._stale():
                return False
            self._stop = threading.Event()
            self._done = threading.Event()
            self._window_started = self._wall_clock()
            self._window_started_mono = self._clock()
            self._thread = threading.Thread(
                target=self._run_window, args=(self._stop, self._done), name=self.thread_name, daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the running window; True if none is running now."""
        return self._done.wait(timeout) if self.collecting else True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop a running window (its result is dropped) and wait for its thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run_window(self, stop: threading.Event, done: threading.Event) -> None:
        try:
            self._trace_window(stop, done)
        finally:
            if self._on_cpu is not None:
                self._on_cpu(time.thread_time())  # the whole thread's CPU: it ran one window

    def _trace_window(self, stop: threading.Event, done: threading.Event) -> None:
        started_at = self._window_started or self._wall_clock()
        started = self._clock()
        owner = not tracemalloc.is_tracing()  # someone else's tracing is left running
        snapshots = []
        peaks: list[int] = []
        try:
            if owner:
                tracemalloc.start(1)
            step = self.window_secs / self.snapshots_per_window
            for _ in range(self.snapshots_per_window):
                if stop.wait(step):
                    return
                if owner:  # the peak since the last snapshot was taken (its own spike left out)
                    peaks.append(tracemalloc.get_traced_memory()[1])
                snapshots.append(tracemalloc.take_snapshot())
                if owner:
                    tracemalloc.reset_peak()
        except Exception:
            logger.warning("allocation window failed", exc_info=True)
            return
        finally:
            if owner and tracemalloc.is_tracing():
                tracemalloc.stop()
            if stop.is_set() or not snapshots:
                done.set()
        try:
            finished = self._clock()
            result = summarise(
                snapshots, self._locator, started_at, finished, finished - started, peaks if owner else None
            )
            with self._lock:
                self._latest = result
        except Exception:
            logger.warning("allocation window summary failed", exc_info=True)
        finally:
            done.set()

    # -- the endpoint's body ------------------------------------------------------------

    def report(self) -> dict:
        """The allocations body from the latest completed window (figures null before the first)."""
        latest = self._latest
        stale = self._stale()
        allocator = self._allocator()
        body: dict = {
            "timestamp": iso_utc(self._wall_clock()),
            "status": "collecting" if latest is None else ("stale" if stale else "ready"),
            "collecting": self.collecting,
            "window_started_at": None,
            "window_duration_secs": None,
            "window_age_secs": None,
            "retry_after_secs": None,
            "top_allocators": [],
            "top_locations": [],
            "size_distribution": None,
            "traced_peak_bytes": None,
            "efficiency_score": allocator.efficiency_score if allocator else None,
            "fragmentation_percent": allocator.fragmentation_percent if allocator else None,
            "allocator": allocator.as_dict() if allocator else None,
            "recommendations": [],
            "note": None if allocator else UNAVAILABLE_NOTE,
        }
        if self.collecting and self._window_started_mono is not None:
            remaining = self.window_secs - (self._clock() - self._window_started_mono)
            body["retry_after_secs"] = round(max(0.0, remaining) + 0.5, 1)
        if latest is None:
            body["recommendations"] = [
                f"Allocation tracing runs in {self.window_secs:g} s windows only while someone asks; "
                f"the first window is collecting: ask again in {body['retry_after_secs'] or self.window_secs:g} s."
            ]
            return body
        body.update(
            window_started_at=iso_utc(latest.started_at),
            window_duration_secs=latest.duration_secs,
            window_age_secs=round(self._clock() - latest.finished_monotonic, 3),
            top_allocators=[[name, size] for name, size in latest.top_allocators],
            top_locations=latest.top_locations,
            size_distribution=dict(latest.size_distribution),
            traced_peak_bytes=latest.traced_peak_bytes,
        )
        body["recommendations"] = _recommendations(latest, allocator)
        return body


def _recommendations(result: WindowResult, allocator: AllocatorFigures | None) -> list[str]:
    advice = []
    if result.top_allocators:
        name, size = result.top_allocators[0]
        advice.append(
            f"Biggest allocator in the window: {name} ({size / MIB:.2f} MB live at its highest snapshot)."
        )
    if result.huge_allocators:
        advice.append(
            "Large allocations (>= 1 MiB) detected in "
            + ", ".join(result.huge_allocators[:3])
            + ": stream or reuse buffers instead of building whole payloads in memory."
        )
    distribution = result.size_distribution
    total = sum(distribution.values())
    if total >= 10_000 and distribution["small_0_1kb"] / total >= 0.9:
        advice.append(
            f"{100 * distribution['small_0_1kb'] / total:.0f} % of the live blocks are under 1 KiB: "
            "many small objects; __slots__, tuples or arrays hold them more compactly, or pool them."
        )
    if allocator is not None:
        fragmentation = allocator.fragmentation_percent
        if fragmentation is not None and fragmentation >= 25:
            advice.append(
                f"The C heap is {fragmentation:.1f} % fragmented: consider MALLOC_ARENA_MAX=2 or "
                "periodic malloc_trim(0) after large bursts."
            )
    if not advice:
        advice.append("No allocation pattern stands out in the latest window.")
    return advice
