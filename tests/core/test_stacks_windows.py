"""Windows picked by time and the diff of two windows: exact values."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from profiling.core.errors import InvalidParameterError
from profiling.core.stacks.labels import CodeLabeler, FrameLabel
from profiling.core.stacks.store import StackStats, Totals
from profiling.core.stacks.windows import diff_tree, history_window, parse_instant
from tests.core.stackfakes import ROOT


def labels():
    labeler = CodeLabeler(project_root=str(ROOT))
    ids = {
        name: labeler.intern(FrameLabel(f"app.{name}", "app.py", 1, True)) for name in ("main", "a", "b", "c")
    }
    return labeler, ids


def totals(counts: dict[tuple, int]) -> Totals:
    result = Totals()
    for stack, samples in counts.items():
        result.stacks[stack] = StackStats(samples, 0.0, 0.0)
        result.busy_samples += samples
    return result


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1767225600", 1767225600.0),
        ("1767225600.25", 1767225600.25),
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T01:00:00+01:00", 1767225600.0),
        ("2026-01-01T00:00:00", 1767225600.0),  # naive: UTC
    ],
)
def test_an_instant_is_unix_seconds_or_iso_8601(text, seconds):
    assert parse_instant(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "nan", "inf", "-5", "0", "2026-13-01T00:00:00Z"])
def test_a_bad_instant_is_refused(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_a_diff_gives_each_frames_share_of_its_own_window_and_marks_frames_seen_in_one():
    labeler, ids = labels()
    main, a, b, c = (ids[n] for n in ("main", "a", "b", "c"))
    base = totals({(main, a): 75, (main, c): 25})  # a was hot
    new = totals({(main, a): 10, (main, b): 30})  # then b
    tree = diff_tree(base, new, labeler)
    assert (tree["base_value"], tree["value"], tree["only_in"]) == (100, 40, None)
    [root] = tree["children"]
    assert (root["name"], root["base_share_percent"], root["share_percent"], root["delta_percent"]) == (
        "app.main",
        100.0,
        100.0,
        0.0,
    )
    found = {child["name"]: child for child in root["children"]}
    assert found["app.a"]["base_share_percent"] == 75.0 and found["app.a"]["share_percent"] == 25.0
    assert found["app.a"]["delta_percent"] == -50.0 and found["app.a"]["only_in"] is None
    assert found["app.b"]["delta_percent"] == 75.0 and found["app.b"]["only_in"] == "new"
    assert found["app.c"]["delta_percent"] == -25.0 and found["app.c"]["only_in"] == "base"
    assert [c["name"] for c in root["children"]] == ["app.a", "app.b", "app.c"]  # by the larger share


def test_a_diff_leaves_out_route_labels_and_frames_too_small_in_both_windows():
    labeler, ids = labels()
    route = labeler.intern(FrameLabel("GET /x", "<route>", 0, False))
    base = totals({(route, ids["main"], ids["a"]): 9999, (route, ids["main"], ids["c"]): 1})
    new = totals({(ids["main"], ids["a"]): 10})
    tree = diff_tree(base, new, labeler, is_route=lambda label: label == route)
    [root] = tree["children"]
    assert root["name"] == "app.main"
    assert [c["name"] for c in root["children"]] == ["app.a"]  # c: 0.01 % in the base only


class FakeHistory:
    def __init__(self, coverage):
        self._coverage = coverage
        self.asked = []

    def coverage(self):
        return self._coverage

    def between(self, start, end):
        self.asked.append((start, end))
        return Totals(span_secs=end - start)


def test_a_history_window_must_lie_inside_what_the_history_holds():
    history = FakeHistory((1000.0, 5000.0))
    sampler = SimpleNamespace(history=history)
    assert history_window(sampler, 2000.0, 3000.0, now=lambda: 5000.0).span_secs == 1000.0
    assert history.asked == [(2000.0, 3000.0)]
    with pytest.raises(InvalidParameterError, match="not inside the profile history"):
        history_window(sampler, 100.0, 3000.0, now=lambda: 5000.0)
    with pytest.raises(InvalidParameterError, match="not inside the profile history"):
        history_window(sampler, 2000.0, 9000.0, now=lambda: 5000.0)
    with pytest.raises(InvalidParameterError, match="to must be after from"):
        history_window(sampler, 3000.0, 3000.0, now=lambda: 5000.0)
    with pytest.raises(InvalidParameterError, match="holds no samples"):
        history_window(SimpleNamespace(history=FakeHistory(None)), 1.0, 2.0)
