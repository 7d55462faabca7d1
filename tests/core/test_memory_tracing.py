"""Allocation windows (real tracemalloc, short windows) and the allocator's formulas."""

import threading

import pytest

from profiling.core.memory.allocator import AllocatorFigures, read_allocator
from profiling.core.memory.tracing import BUCKETS, AllocationTracker, bucket_of
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
