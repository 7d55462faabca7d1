"""The profile history: one-second figures folded into tiers by wall-clock time, with exact figures."""

from __future__ import annotations

import threading
import tracemalloc

import pytest

from profiling.core.stacks.history import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_TIERS,
    ProfileHistory,
    TierCaps,
    caps_for,
    tier_buckets,
)
from profiling.core.stacks.sampler import StackSampler
from profiling.core.stacks.store import Bucket, StackStats, StackStore, Totals
from tests.core.stackfakes import Driver, stack_of

OTHER = (0,)
T0 = 1_800_000_000.0  # a unix time on a 5 min boundary
ROOMY = TierCaps(
    stacks_per_bucket=256,
    held_entries=1_000_000,
    held_frames=1_000_000,
    new_frames_per_bucket=1_000_000,
    calls_per_bucket=1_000_000,
    staging_stacks=100_000,
    staging_frames=1_000_000,
)


def figures(stacks: dict, *, idle: int = 0, gc_secs: float = 0.0, app_calls=None, leaf_calls=None) -> Bucket:
    """A closed one-second bucket: {stack: (samples, cpu secs, wall secs)}."""
    bucket = Bucket()
    for stack, (samples, cpu, wall) in stacks.items():
        bucket.stacks[stack] = StackStats(samples, cpu, wall)
        bucket.busy_samples += samples
        bucket.cpu_secs += cpu
        bucket.wall_secs += wall
    bucket.idle_samples = idle
    bucket.gc_secs = gc_secs
    bucket.ticks = 10
    bucket.app_calls = dict(app_calls or {})
    bucket.leaf_calls = dict(leaf_calls or {})
    return bucket


def second(n: int) -> Bucket:
    """The n-th second's figures: one stack of its own and a shared one, distinct sums."""
    return figures({(1, 100 + n): (n % 7 + 1, 0.01 * (n % 5), 0.1), (1, 2): (2, 0.02, 0.2)}, idle=1)


def roomy(tiers=DEFAULT_TIERS) -> ProfileHistory:
    return ProfileHistory(other_stack=OTHER, tiers=tiers, caps=[ROOMY] * len(tiers))


def feed(history: ProfileHistory, seconds: range, start: float = T0) -> None:
    for n in seconds:
        history.add(second(n), start + n, 1.0)


def expected(seconds) -> tuple[int, float, float, int]:
    """(busy samples, cpu secs, wall secs, idle samples) of `second(n)` over these seconds."""
    busy = sum(n % 7 + 1 + 2 for n in seconds)
    cpu = sum(0.01 * (n % 5) + 0.02 for n in seconds)
    wall = sum(0.1 + 0.2 for n in seconds)
    return busy, cpu, wall, len(seconds)


def assert_figures(totals, seconds) -> None:
    busy, cpu, wall, idle = expected(seconds)
    assert totals.busy_samples == busy
    assert sum(s.samples for s in totals.stacks.values()) == busy
    assert totals.cpu_secs == pytest.approx(cpu)
    assert sum(s.cpu_secs for s in totals.stacks.values()) == pytest.approx(cpu)
    assert totals.wall_secs == pytest.approx(wall)
    assert sum(s.wall_secs for s in totals.stacks.values()) == pytest.approx(wall)
    assert totals.idle_samples == idle
    assert totals.ticks == 10 * len(seconds)


def tier_indexes(history: ProfileHistory, k: int) -> list[int]:
    tier = history._tiers[k]
    return [b.index for b in tier.store._buckets] + [b.index for b in tier.staging._buckets]


def test_seconds_fold_into_10s_buckets_by_wall_clock_time():
    history = roomy()
    feed(history, range(0, 25))
    assert tier_indexes(history, 0) == [int(T0 // 10), int(T0 // 10) + 1, int(T0 // 10) + 2]
    for low in (0, 10):
        totals = history.between(T0 + low, T0 + low + 10)
        assert_figures(totals, range(low, low + 10))
        assert totals.span_secs == 10.0
        assert (totals.first, totals.last) == (T0 + low, T0 + low + 10)
        assert set(totals.stacks) == {(1, 2)} | {(1, 100 + n) for n in range(low, low + 10)}
    # The newest 10 s bucket is still gathering (seconds 20..24): it is read too.
    newest = history.between(T0 + 20, T0 + 30)
    assert_figures(newest, range(20, 25))
    assert (newest.span_secs, newest.first, newest.last) == (5.0, T0 + 20, T0 + 25)
    # A window inside one bucket gets the whole bucket; one across a boundary gets both.
    assert_figures(history.between(T0 + 3, T0 + 4), range(0, 10))
    across = history.between(T0 + 9, T0 + 11)
    assert_figures(across, range(0, 20))
    assert across.span_secs == 20.0
    assert history.coverage() == (T0, T0 + 25)


def test_a_second_straddling_a_boundary_goes_whole_to_the_bucket_of_its_middle():
    history = roomy()
    history.add(second(1), T0 + 9.4, 1.0)  # middle at 9.9: the first bucket
    history.add(second(2), T0 + 9.8, 1.0)  # middle at 10.3: the second
    first = history.between(T0, T0 + 10)
    assert_figures(first, [1])
    assert (first.first, first.last) == (T0 + 9.4, T0 + 10)  # its span stops at its bucket's end
    second_bucket = history.between(T0 + 10, T0 + 20)
    assert_figures(second_bucket, [2])
    assert (second_bucket.first, second_bucket.last) == (T0 + 10, T0 + 10.8)


def test_10s_buckets_older_than_an_hour_are_merged_into_their_5min_bucket():
    history = roomy()
    feed(history, range(0, 3900))  # 65 minutes
    # Seconds 0..299 ended over an hour before the newest (3900): one 5 min bucket now.
    assert tier_indexes(history, 1) == [int(T0 // 300)]
    fine = tier_indexes(history, 0)
    assert fine[0] == int((T0 + 300) // 10) and fine[-1] == int((T0 + 3890) // 10)
    assert len(fine) == 360
    old = history.between(T0 + 20, T0 + 30)  # inside the 5 min bucket: all of it
    assert_figures(old, range(0, 300))
    assert (old.span_secs, old.first, old.last) == (300.0, T0, T0 + 300)
    assert set(old.stacks) == {(1, 2)} | {(1, 100 + n) for n in range(300)}
    # Still in 10 s buckets: read at that resolution.
    assert_figures(history.between(T0 + 300, T0 + 310), range(300, 310))
    # The next 10 s bucket ages out with the next 10 s of figures, into the next 5 min bucket.
    feed(history, range(3900, 3910))
    assert tier_indexes(history, 1) == [int(T0 // 300), int(T0 // 300) + 1]
    assert_figures(history.between(T0 + 20, T0 + 30), range(0, 300))
    begun = history.between(T0 + 300, T0 + 310)
    assert_figures(begun, range(300, 310))
    assert (begun.span_secs, begun.first, begun.last) == (10.0, T0 + 300, T0 + 310)
    assert_figures(history.between(T0 + 310, T0 + 320), range(310, 320))


def test_between_across_tiers_is_the_sum_of_what_was_added_never_counted_twice():
    history = roomy()
    feed(history, range(0, 2 * 3600 + 1234))
    everything = history.between(T0 - 1000, T0 + 10_000)
    assert_figures(everything, range(0, 2 * 3600 + 1234))
    assert everything.span_secs == 2 * 3600 + 1234
    assert everything.stacks[(1, 2)].samples == 2 * (2 * 3600 + 1234)
    # Windows on 5 min boundaries partition the buckets of both tiers: their sums add up exactly.
    edges = [T0 + 300 * i for i in range(0, 30)]
    parts = [history.between(a, b) for a, b in zip(edges, edges[1:], strict=False)]
    assert sum(p.busy_samples for p in parts) == everything.busy_samples
    assert sum(p.span_secs for p in parts) == everything.span_secs
    assert sum(p.stacks.get((1, 2), StackStats()).samples for p in parts) == everything.stacks[(1, 2)].samples
    # A window across the tier boundary: 5 min buckets before it, 10 s buckets after it.
    boundary = history._tiers[0].store._buckets[0].index * 10.0
    assert boundary == T0 + 2 * 3600 + 1234 - 3600 - 4  # the tier keeps the buckets ending within the hour
    window = history.between(boundary - 1, boundary + 1)
    five_min = int(boundary // 300) * 300
    assert_figures(window, range(int(five_min - T0), int(boundary - T0) + 10))
    assert window.span_secs == boundary - five_min + 10


def test_buckets_older_than_a_day_are_dropped_and_coverage_moves():
    history = roomy(tiers=((10.0, 60.0), (60.0, 300.0)))
    assert history.coverage() is None
    assert history.between(T0, T0 + 10).busy_samples == 0
    feed(history, range(0, 600))
    oldest, newest = history.coverage()
    assert newest == T0 + 600
    assert oldest == T0 + 300  # the 60 s buckets that ended within 300 s of the newest
    assert history.dropped_buckets == 5
    assert history.dropped_samples == expected(range(0, 300))[0] + 300
    assert_figures(history.between(oldest, newest), range(300, 600))
    assert history.between(T0, oldest).busy_samples == 0


def test_a_wall_clock_set_back_still_counts_everything_in_time_order():
    history = roomy()
    feed(history, range(0, 30))
    history.add(second(30), T0 - 500, 1.0)  # an hour of NTP correction, say
    history.add(second(31), T0 + 31, 1.0)
    assert_figures(history.between(T0 - 1000, T0 + 1000), range(0, 32))
    assert history.coverage() == (T0, T0 + 32)
    indexes = tier_indexes(history, 0)
    assert indexes == sorted(indexes)


def test_caps_bound_every_bucket_and_the_tier_overflow_goes_to_other_stacks():
    caps = TierCaps(
        stacks_per_bucket=4,
        held_entries=20,
        held_frames=60,
        new_frames_per_bucket=12,
        calls_per_bucket=3,
        staging_stacks=8,
        staging_frames=40,
    )
    tiers = ((10.0, 100.0), (50.0, 250.0))
    history = ProfileHistory(other_stack=OTHER, tiers=tiers, caps=[caps, caps])
    added = 0
    for n in range(0, 400):
        stacks = {(7, 8, 9, n, k): (k + 1, 0.001 * k, 0.01 * (k + 1)) for k in range(6)}
        stacks[(1, 2)] = (1, 0.0, 0.01)
        calls = {1000 + 10 * n + k: k + 1 for k in range(5)}
        history.add(figures(stacks, app_calls=calls, leaf_calls=calls), T0 + n, 1.0)
        added += sum(samples for samples, _, _ in stacks.values())
        for tier in history._tiers:
            for store, limit in ((tier.store, caps.stacks_per_bucket), (tier.staging, caps.staging_stacks)):
                for bucket in store._buckets:
                    assert len(bucket.stacks) <= limit + 1
                    assert len(bucket.app_calls) <= (3 if store is tier.store else 8)
                    assert len(bucket.leaf_calls) <= (3 if store is tier.store else 8)
            assert tier.store.held_entries <= caps.held_entries + len(tier.store._buckets)
            assert tier.store.held_frames <= caps.held_frames
            assert tier.staging.held_frames <= caps.staging_frames
            assert all(frames <= caps.new_frames_per_bucket for frames in tier.store._new_frames.values())
    total = history.between(T0 - 1, T0 + 1000)
    kept = {stack for stack in total.stacks if stack != OTHER}
    assert total.stacks[OTHER].samples > 0
    # Whatever went to "[other stacks]", every sample and second of the history's span is there.
    oldest, newest = history.coverage()
    seconds = range(int(oldest - T0), 400)
    in_span = sum(sum(k + 1 for k in range(6)) + 1 for _ in seconds)
    assert total.busy_samples == sum(s.samples for s in total.stacks.values()) == in_span
    assert total.wall_secs == pytest.approx(sum(s.wall_secs for s in total.stacks.values()))
    assert history.dropped_calls > 0 and kept
    assert added > in_span  # older figures were dropped past the last horizon


def test_each_bucket_keeps_its_biggest_stacks_whenever_they_came():
    caps = TierCaps(
        stacks_per_bucket=2,
        held_entries=100,
        held_frames=1000,
        new_frames_per_bucket=1000,
        calls_per_bucket=2,
    )
    history = ProfileHistory(other_stack=OTHER, tiers=((10.0, 3600.0),), caps=[caps])
    for n in range(10):
        # The big stacks only come in the last seconds of the bucket.
        stacks = {(5, n): (1, 0.0, 0.1)} if n < 8 else {(9, n): (50, 0.5, 5.0)}
        history.add(figures(stacks, app_calls={n: 100 if n >= 8 else 1}), T0 + n, 1.0)
    history.add(second(10), T0 + 10, 1.0)  # closes the first bucket
    bucket = history._tiers[0].store._buckets[0]
    assert set(bucket.stacks) == {(9, 8), (9, 9), OTHER}
    assert bucket.stacks[OTHER].samples == 8
    assert bucket.busy_samples == 108
    assert bucket.app_calls == {8: 100, 9: 100}


def test_held_stack_tuples_are_shared_across_buckets_and_tiers():
    history = roomy(tiers=((10.0, 60.0), (60.0, 600.0)))
    for n in range(200):
        history.add(figures({tuple([1, 2, 3]): (1, 0.0, 0.1)}), T0 + n, 1.0)  # a new tuple each time
    held = [stack for tier in history._tiers for bucket in tier.store._buckets for stack in bucket.stacks]
    assert len(held) > 3 and len({id(stack) for stack in held}) == 1
    counts = history.counts()
    assert [tier["stacks"] for tier in counts] == [2, 2]  # one record in each tier's store and staging
    assert [tier["frames"] for tier in counts] == [6, 6]


def test_default_caps_keep_the_worst_case_within_the_budget():
    history = ProfileHistory(other_stack=OTHER)
    assert history.tiers == DEFAULT_TIERS
    assert tier_buckets(DEFAULT_TIERS) == [362, 278]
    assert 0.9 * DEFAULT_BUDGET_BYTES < history.worst_case_bytes() <= DEFAULT_BUDGET_BYTES
    assert ProfileHistory(other_stack=OTHER, budget_bytes=DEFAULT_BUDGET_BYTES // 2).worst_case_bytes() <= (
        DEFAULT_BUDGET_BYTES // 2
    )
    first, second_tier = history.caps
    assert first.stacks_per_bucket == 32 and second_tier.stacks_per_bucket == 43
    with pytest.raises(ValueError):
        caps_for(DEFAULT_TIERS, 1024 * 1024)


def test_what_a_full_history_holds_stays_within_its_worst_case_bytes():
    """Adversarial figures (every stack new and deep, many calls) until every cap binds."""
    caps = TierCaps(
        stacks_per_bucket=16,
        held_entries=16 * 14,
        held_frames=6000,
        new_frames_per_bucket=600,
        calls_per_bucket=16,
        staging_stacks=64,
        staging_frames=4000,
    )
    tiers = ((10.0, 120.0), (60.0, 600.0))
    history = ProfileHistory(other_stack=OTHER, tiers=tiers, caps=[caps, caps])
    assert tier_buckets(tiers) == [14, 10]
    labels = list(range(1000, 9000))  # the labeler's ids: not the history's memory
    ring = labels * 2
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(720):
            # Every stack new (tuples made now, kept only if the history keeps them), 32 deep.
            stacks = {
                (labels[n], labels[k], *ring[(n * 131 + k * 17) % 8000 :][:30]): (1000 + k, 0.5, 1.5)
                for k in range(40)
            }
            calls = {labels[(n * 64 + k) % 8000]: 1000 + k for k in range(64)}
            history.add(figures(stacks, app_calls=calls, leaf_calls=calls), T0 + n, 1.0)
            del stacks, calls
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert history.memory_bytes() <= history.worst_case_bytes()
    assert held <= history.worst_case_bytes()
    counts = history.counts()
    assert counts[0]["frames"] >= caps.held_frames - 32  # the caps bind
    assert all(tier["frames"] > 0.5 * caps.held_frames for tier in counts)


def test_tiers_are_checked():
    for tiers in ((), ((10.0, 5.0),), ((10.0, 60.0), (25.0, 600.0)), ((10.0, 60.0), (60.0, 60.0))):
        with pytest.raises(ValueError):
            ProfileHistory(other_stack=OTHER, tiers=tiers)
    with pytest.raises(ValueError):
        ProfileHistory(other_stack=OTHER, tiers=DEFAULT_TIERS, caps=[ROOMY])
    three = ProfileHistory(other_stack=OTHER, tiers=((1.0, 60.0), (10.0, 600.0), (60.0, 3600.0)))
    assert len(three.caps) == 3


def test_concurrent_readers_see_every_sample_once():
    history = roomy(tiers=((10.0, 60.0), (60.0, 3600.0)))
    done = threading.Event()
    seen: list[int] = []

    def read():
        while not done.is_set():
            totals = history.between(T0 - 10, T0 + 10_000)
            seen.append(totals.busy_samples)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        feed(history, range(0, 1500))
    finally:
        done.set()
        reader.join()
    assert seen == sorted(seen)  # a reader never sees a sample twice, nor loses one being moved
    assert_figures(history.between(T0 - 10, T0 + 10_000), range(0, 1500))


# -- fed by the sampler ------------------------------------------------------------------


def work():
    return sum(range(10))


def test_the_sampler_hands_each_closed_bucket_to_its_history_at_its_wall_clock_start():
    wall = {"offset": T0 - 100.0}  # wall clock = monotonic + offset
    driver = Driver(sample_hz=10.0, wall_clock=lambda: driver.now + wall["offset"])
    assert isinstance(driver.sampler.history, ProfileHistory)
    driver.frames = {7: stack_of(work)}
    for tick in range(0, 35):  # monotonic 100.05 .. 103.45: buckets 100, 101, 102, 103
        driver.cpu[7] = 0.1 * tick
        driver.sample(100.05 + 0.1 * tick)
    history = driver.sampler.history
    # Buckets 100..102 closed; 103 is still being written.
    assert history.added == 3
    assert history.coverage() == pytest.approx((T0, T0 + 3.0))
    store_totals = Totals()
    for bucket in list(driver.sampler.store._buckets)[:3]:  # buckets 100..102 of the store
        store_totals.add(bucket)
    totals = history.between(T0, T0 + 3.0)
    assert totals.busy_samples == store_totals.busy_samples == 29  # the first tick stands for nothing
    assert totals.wall_secs == pytest.approx(store_totals.wall_secs)
    assert totals.cpu_secs == pytest.approx(store_totals.cpu_secs)
    assert totals.stacks == store_totals.stacks
    assert totals.ticks == 30
    assert totals.span_secs == 3.0


def test_the_history_can_be_given_or_left_out():
    mine = ProfileHistory(other_stack=OTHER, tiers=((10.0, 60.0),))
    assert Driver(history=mine).sampler.history is mine
    off = Driver(history=False)
    assert off.sampler.history is None
    off.frames = {7: stack_of(work)}
    for tick in range(30):
        off.cpu[7] = 0.1 * tick
        off.sample(0.05 + 0.1 * tick)
    assert off.totals().busy_samples == 29
    assert StackSampler(100).history is not None


def test_a_store_adds_whole_figures_at_a_time_and_merges_between_two_times():
    store = StackStore(bucket_secs=10.0, max_window_secs=100.0, other_stack=OTHER)
    with store.lock:
        store.add_at(5.0, second(1))
        store.add_at(7.0, second(2))
        store.add_at(15.0, second(3))
    assert [b.index for b in store._buckets] == [0, 1]
    totals = store.between(0.0, 10.0)
    assert_figures(totals, [1, 2])
    assert totals.span_secs == 10.0  # plain buckets cover their width
    assert store.coverage() == (0.0, 20.0)
    with store.lock:
        taken = store.take_ending_by(10.0)
    assert [b.index for b in taken] == [0]
    assert store.held_entries == 2 and store.between(0.0, 10.0).busy_samples == 0
