"""Allocation windows (real tracemalloc, short windows) and the allocator's formulas."""

import threading
import time
import tracemalloc

import pytest

from profiling.core.memory.allocator import AllocatorFigures, read_allocator
from profiling.core.memory.tracing import BUCKETS, AllocationTracker, bucket_of, summarise
from tests import leaky_app


@pytest.fixture
def tracker():
    tracker = AllocationTracker(window_secs=0.6, snapshots_per_window=3, stale_after_secs=60)
    yield tracker
    tracker.stop()


@pytest.mark.parametrize(
    ("size", "bucket"),
    [
        (0, 0),
        (1023, 0),
        (1024, 1),
        (100 * 1024 - 1, 1),
        (100 * 1024, 2),
        (2**20 - 1, 2),
        (2**20, 3),
        (2**30, 3),
    ],
)
def test_bucket_of_edges(size, bucket):
    assert bucket_of(size) == BUCKETS[bucket]


def test_allocator_formulas_from_mallinfo2_figures():
    figures = AllocatorFigures(arena=1000, mmapped=3000, in_use=600, free=400, releasable=100)
    assert figures.fragmentation_percent == 30.0  # (400 - 100) / 1000
    assert figures.efficiency_score == 0.9  # (600 + 3000) / (1000 + 3000)
    assert AllocatorFigures(0, 0, 0, 0, 0).fragmentation_percent is None
    assert AllocatorFigures(0, 0, 0, 0, 0).efficiency_score is None


def test_read_allocator_measures_glibc_heap():
    figures = read_allocator()
    if figures is None:  # not glibc: the endpoint then says so in its note
        pytest.fail("this test machine runs glibc; mallinfo2 should be available")
    assert figures.arena > 0 and figures.in_use > 0
    assert 0 < figures.efficiency_score <= 1


def test_tracker_first_report_is_collecting_with_null_figures(tracker):
    assert tracker.ensure_fresh()
    body = tracker.report()
    assert body["status"] == "collecting"
    assert body["collecting"] is True
    assert body["size_distribution"] is None and body["top_allocators"] == []
    assert 0 < body["retry_after_secs"] <= 0.6 + 0.5
    assert not tracker.ensure_fresh()  # one window at a time


def test_tracker_churn_of_1mib_blocks_shows_under_its_function_and_huge_bucket(tracker):
    stop = threading.Event()
    churn = threading.Thread(target=leaky_app.churn_blocks, args=(stop,), name="test-churn")
    churn.start()
    try:
        tracker.ensure_fresh()
        assert tracker.wait(5)
    finally:
        stop.set()
        churn.join(5)
        leaky_app.reset()
    body = tracker.report()
    assert body["status"] == "ready"
    name, size = body["top_allocators"][0]
    assert name == "tests.leaky_app.churn_blocks"
    assert size >= 2**20
    assert body["size_distribution"]["huge_1mb_plus"] >= 1
    assert body["window_duration_secs"] == pytest.approx(0.6, abs=0.3)
    assert any("tests.leaky_app.churn_blocks" in r for r in body["recommendations"])
    assert body["top_locations"][0]["function_name"] == "tests.leaky_app.churn_blocks"
    assert not tracker.ensure_fresh()  # fresh: no new window


def test_tracker_starts_a_new_window_when_stale():
    now = [100.0]
    tracker = AllocationTracker(
        window_secs=0.05, snapshots_per_window=1, stale_after_secs=10, clock=lambda: now[0]
    )
    try:
        assert tracker.ensure_fresh()
        assert tracker.wait(5)
        assert tracker.report()["status"] == "ready"
        now[0] += 11
        assert tracker.report()["status"] == "stale"
        assert tracker.ensure_fresh()
        tracker.wait(5)
    finally:
        tracker.stop()


def allocating_line():
    return bytes(10)  # a line of application code


def other_function():
    return [0]  # another line


class NamesByLine:
    """A CodeLocator stand-in: `module.function` per known line, the path otherwise."""

    def __init__(self, names):
        self.names = names

    def name(self, filename, lineno):
        return self.names.get((filename, lineno), filename)


def raw_snapshot(*traces):
    """A real tracemalloc.Snapshot of (filename, line, size) traces, one frame each."""
    return tracemalloc.Snapshot([(0, size, ((filename, line),), 1) for filename, line, size in traces], 1)


APP = "/srv/app/views.py"
LOCATOR = NamesByLine(
    {(APP, 10): "app.views.report", (APP, 11): "app.views.report", (APP, 30): "app.views.other"}
)


def test_summarise_counts_a_zero_byte_trace_without_failing():
    snapshot = raw_snapshot(
        ("<frozen importlib._bootstrap>", 241, 0),
        (APP, 10, 3_145_761),
        (APP, 10, 1_527),
        (APP, 30, 0),
    )
    result = summarise([snapshot], LOCATOR, 1.0, 2.0, 1.0, interval_peaks=[3_147_288])
    assert result.top_allocators == [("app.views.report", 3_147_288)]
    assert result.top_locations[0] == {
        "function_name": "app.views.report",
        "file": APP,
        "line_number": 10,
        "bytes": 3_147_288,
        "blocks": 2,
    }
    assert {(loc["file"], loc["bytes"], loc["blocks"]) for loc in result.top_locations[1:]} == {
        ("<frozen importlib._bootstrap>", 0, 1),
        (APP, 0, 1),
    }
    assert result.size_distribution == {
        "small_0_1kb": 2,
        "medium_1_100kb": 1,
        "large_100kb_1mb": 0,
        "huge_1mb_plus": 1,
    }
    assert result.huge_allocators == ["app.views.report"]
    assert result.blocks == 4


def test_summarise_leaves_the_profilers_own_allocations_out_of_the_allocators():
    from profiling.core.stacks import sampler as profiler_module

    own = profiler_module.__file__
    snapshot = raw_snapshot((own, 40, 900_000), (APP, 10, 2000))
    locator = NamesByLine(LOCATOR.names | {(own, 40): "profiling.core.stacks.sampler.StackSampler.tick"})
    result = summarise([snapshot], locator, 1.0, 2.0, 1.0, interval_peaks=[902_000])
    assert result.top_allocators == [("app.views.report", 2000)]
    assert [loc["file"] for loc in result.top_locations] == [APP]
    assert result.blocks == 1
    assert result.traced_peak_bytes == 2000


def test_summarise_function_bytes_are_those_of_one_snapshot_not_maxima_of_several():
    # line 10 peaks in the first snapshot, line 11 in the second: never both at once
    first = raw_snapshot((APP, 10, 5000), (APP, 11, 1000))
    second = raw_snapshot((APP, 10, 1000), (APP, 11, 4000))
    result = summarise([first, second], LOCATOR, 1.0, 2.0, 1.0, interval_peaks=[6000, 5000])
    assert result.top_allocators == [("app.views.report", 6000)]  # not 5000 + 4000
    assert [(loc["line_number"], loc["bytes"]) for loc in result.top_locations] == [(10, 5000), (11, 4000)]


def test_summarise_traced_peak_is_tracemallocs_peak_without_the_windows_own_snapshots():
    own = tracemalloc.__file__
    first = raw_snapshot((APP, 10, 1000))
    second = raw_snapshot((APP, 10, 1000), (own, 1, 700_000))  # the first snapshot, still held
    result = summarise([first, second], LOCATOR, 1.0, 2.0, 1.0, interval_peaks=[9_000_000, 2_700_000])
    assert result.traced_peak_bytes == 9_000_000
    assert all(loc["file"] != own for loc in result.top_locations)
    result = summarise([first, second], LOCATOR, 1.0, 2.0, 1.0, interval_peaks=[1000, 8_700_000])
    assert result.traced_peak_bytes == 8_000_000
    assert summarise([first], LOCATOR, 1.0, 2.0, 1.0, interval_peaks=None).traced_peak_bytes is None


def test_tracker_traced_peak_holds_a_block_freed_before_any_snapshot():
    tracker = AllocationTracker(window_secs=0.5, snapshots_per_window=1, stale_after_secs=60)
    was_tracing = tracemalloc.is_tracing()
    assert not was_tracing
    try:
        assert tracker.ensure_fresh()
        deadline = time.monotonic() + 5
        while not tracemalloc.is_tracing() and time.monotonic() < deadline:
            time.sleep(0.001)
        block = bytes(8 * 2**20)  # alive for a moment only, long before the snapshot
        del block
        assert tracker.wait(5)
    finally:
        tracker.stop()
    result = tracker.latest()
    assert result.traced_peak_bytes >= 8 * 2**20
    assert sum(loc["bytes"] for loc in result.top_locations) < 8 * 2**20


def test_tracker_leaves_someone_elses_tracing_and_peak_alone():
    tracemalloc.start(1)
    try:
        keep = bytes(4 * 2**20)
        _, peak_before = tracemalloc.get_traced_memory()
        tracker = AllocationTracker(window_secs=0.2, snapshots_per_window=1, stale_after_secs=60)
        assert tracker.ensure_fresh()
        assert tracker.wait(5)
        tracker.stop()
        assert tracemalloc.is_tracing()  # still on: it was not the window's
        assert tracemalloc.get_traced_memory()[1] >= peak_before  # its peak was not reset
    finally:
        tracemalloc.stop()
    result = tracker.latest()
    assert result.traced_peak_bytes is None
    assert any(loc["bytes"] >= len(keep) for loc in result.top_locations)


def test_tracker_tells_the_cpu_its_window_thread_used():
    charged = []
    tracker = AllocationTracker(
        window_secs=0.2, snapshots_per_window=2, stale_after_secs=60, on_cpu=charged.append
    )
    assert tracker.ensure_fresh()
    assert tracker.wait(10)
    tracker.stop()
    (seconds,) = charged
    assert 0 < seconds < 1.0  # two snapshots of this test process: some CPU, far below the window
