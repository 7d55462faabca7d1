"""A known CPU split, profiled by a real sampler over real threads: each function within 5 points."""

from __future__ import annotations

from tests import stacks_split

PLANTED = ("split_heavy", "split_medium", "split_light")
SLEEPERS = ("split_sleeper", "split_background")


def test_stack_sampler_reads_a_planted_cpu_split_within_5_points_and_sleepers_get_none():
    # 47 Hz for 30 s: the samples of two minutes at the default rate (the bar is 60 s at 11 Hz,
    # `python -m tests.stacks_split 11 60`).
    result = stacks_split.run(sample_hz=47.0, secs=30.0)
    truth, measured = result["truth"], result["measured"]
    for name in PLANTED:
        assert abs(measured[name] - truth[name]) <= 5.0, result
    for name in SLEEPERS:
        assert measured[name] <= 1.0, result
        assert not [r for r in result["recommendations"] if name in r], result
    assert [r for r in result["recommendations"] if "split_heavy" in r], result
